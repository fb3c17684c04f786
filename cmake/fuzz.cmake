# PL_FUZZ=ON builds the libFuzzer targets of fuzz/ (one per reader), clang
# only. Every target of the tree is then instrumented for coverage
# (-fsanitize=fuzzer-no-link) and built with AddressSanitizer + UBSan, made
# fatal, so that a crash, a leak, undefined behaviour or a failed round trip
# stops the fuzzer with the input that caused it. docs/testing.md says how to
# run them; scripts/test.sh runs each for a short time.
option(PL_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)
if(PL_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PL_FUZZ needs clang (libFuzzer): configure with "
      "-DCMAKE_C_COMPILER=clang, got ${CMAKE_C_COMPILER_ID}")
  endif()
  if(PL_SANITIZE)
    message(FATAL_ERROR "PL_FUZZ sets its own sanitizers; drop PL_SANITIZE")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Called after pipelab_core exists: one executable per fuzz/fuzz_<name>.c.
function(pl_add_fuzz_targets)
  if(NOT PL_FUZZ)
    return()
  endif()
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
  foreach(src ${srcs})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE pipelab_core)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    pl_enable_warnings(${name})
  endforeach()
endfunction()
