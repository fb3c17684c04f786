# Loadable modules of the executor (exec/plugin.h), included by
# CMakeLists.txt after pipelab_core exists:
#
# - libpipelab-cuda.so: the CUDA + NCCL backend (cmake/cuda.cmake finds the
#   toolkit; PL_WITH_CUDA=AUTO|ON|OFF);
# - libpipelab-mpi.so: the MPI transport (exec/transport_mpi.c; CMake's
#   find_package(MPI COMPONENTS C), PL_WITH_MPI=AUTO|ON|OFF).
#
# Included after the pipelab tool is defined (every module is one of its
# dependencies). pipelab_core and the pipelab tool link neither CUDA nor MPI: they load a
# module on first use (dlopen, RTLD_NOW | RTLD_LOCAL) from build/plugins in
# the build tree and <libdir>/pipelab/plugins in the install tree. Each
# module is its own sources plus exec/plugin_shim.c, built with hidden
# visibility and --no-undefined (it resolves nothing from the process), and
# exports one symbol, the versioned entry point.
include(GNUInstallDirs)

set(PL_PLUGIN_BUILD_DIR ${CMAKE_BINARY_DIR}/plugins)
set(PL_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/pipelab/plugins)
set(PL_PLUGIN_TARGETS "")

# The core's loader: dlopen, and where the install tree keeps the modules
# relative to the binary and to the library directory.
target_link_libraries(pipelab_core PUBLIC ${CMAKE_DL_LIBS})
file(RELATIVE_PATH _pl_rel_bin /pl_prefix/${CMAKE_INSTALL_BINDIR}
  /pl_prefix/${PL_INSTALL_PLUGINDIR})
file(RELATIVE_PATH _pl_rel_lib /pl_prefix/${CMAKE_INSTALL_LIBDIR}
  /pl_prefix/${PL_INSTALL_PLUGINDIR})
set_source_files_properties(${CMAKE_SOURCE_DIR}/exec/plugin.c PROPERTIES
  COMPILE_DEFINITIONS "PL_PLUGIN_REL_BIN=\"${_pl_rel_bin}\";PL_PLUGIN_REL_LIB=\"${_pl_rel_lib}\"")

# pl_add_plugin(<name> <sources>...): target pipelab_plugin_<name>, the
# module libpipelab-<name>.so.
function(pl_add_plugin name)
  set(t pipelab_plugin_${name})
  add_library(${t} MODULE ${ARGN} ${CMAKE_SOURCE_DIR}/exec/plugin_shim.c)
  target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/include
    ${CMAKE_SOURCE_DIR}/exec ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${t} PRIVATE Threads::Threads)
  target_link_options(${t} PRIVATE "LINKER:--no-undefined")
  set_target_properties(${t} PROPERTIES
    PREFIX "lib" OUTPUT_NAME pipelab-${name}
    LIBRARY_OUTPUT_DIRECTORY ${PL_PLUGIN_BUILD_DIR}
    C_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    INSTALL_RPATH_USE_LINK_PATH ON)
  add_dependencies(${t} pl_gitrev)
  pl_enable_warnings(${t})
  # Whoever builds the tool gets the modules it loads.
  add_dependencies(pipelab ${t})
endfunction()

# --- CUDA + NCCL backend ----------------------------------------------------
pl_add_cuda_plugin()
if(PL_HAVE_CUDA)
  list(APPEND PL_PLUGIN_TARGETS pipelab_plugin_cuda)
endif()

# --- MPI transport ----------------------------------------------------------
set(PL_WITH_MPI "AUTO" CACHE STRING "Build the MPI transport plugin (AUTO|ON|OFF)")
set(PL_HAVE_MPI OFF)
if(NOT PL_WITH_MPI STREQUAL "OFF")
  if(PL_WITH_MPI STREQUAL "ON")
    find_package(MPI REQUIRED COMPONENTS C)
  else()
    find_package(MPI QUIET COMPONENTS C)
  endif()
  if(MPI_C_FOUND)
    set(PL_HAVE_MPI ON)
    pl_add_plugin(mpi ${CMAKE_SOURCE_DIR}/exec/transport_mpi.c)
    target_link_libraries(pipelab_plugin_mpi PRIVATE MPI::MPI_C ${CMAKE_DL_LIBS})
    list(APPEND PL_PLUGIN_TARGETS pipelab_plugin_mpi)
  endif()
endif()
