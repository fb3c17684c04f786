# CUDA + NCCL backend detection. PL_WITH_CUDA=AUTO builds it when the CUDA
# toolkit, a CUDA compiler and NCCL are all found; ON makes their absence an
# error; OFF never builds it. The simulator, the CPU executor, the CLI and all
# non-GPU tests build and pass without it.
set(PL_HAVE_CUDA OFF)
set(PL_CUDA_SUMMARY "")
if(NOT PL_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  find_package(CUDAToolkit QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS}
    /usr/local/cuda/include /usr/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR}
    /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(PL_HAVE_CUDA ON)
    set(PL_CUDA_SUMMARY "(CUDA ${CUDAToolkit_VERSION}, NCCL ${NCCL_LIBRARY})")
  elseif(PL_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PL_WITH_CUDA=ON but the CUDA toolkit, nvcc or NCCL was not found")
  endif()
endif()

if(PL_HAVE_CUDA)
  # A100 (sm_80) and H100/H200 (sm_90).
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
endif()

# The CUDA + NCCL backend as a loadable module, libpipelab-cuda.so
# (exec/plugin.h): exec/*_cuda.c, kernels/*.cu and the host shim. It links
# CUDA, cuBLAS and NCCL; nothing of pipelab (the core lends it what it
# needs through the host table), so the core and the CLI link no CUDA
# library. Called by cmake/plugins.cmake.
function(pl_add_cuda_plugin)
  if(NOT PL_HAVE_CUDA)
    return()
  endif()
  file(GLOB cu_sources CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/kernels/*.cu ${CMAKE_SOURCE_DIR}/exec/*_cuda.c)
  pl_add_plugin(cuda ${cu_sources})
  target_include_directories(pipelab_plugin_cuda PRIVATE ${NCCL_INCLUDE_DIR})
  target_link_libraries(pipelab_plugin_cuda PRIVATE CUDA::cudart CUDA::cublas
    ${NCCL_LIBRARY})
endfunction()
