# Finds LibTorch 2.x. Order: Torch_DIR / CMAKE_PREFIX_PATH as the user set them, then the
# CMake package shipped inside the Python `torch` wheel (torch.utils.cmake_prefix_path).
# Shared by the build tree and by the installed longform-config.cmake.
include_guard(GLOBAL)

if(NOT TARGET torch)
  find_package(Torch QUIET CONFIG)
  if(NOT Torch_FOUND)
    find_package(Python3 QUIET COMPONENTS Interpreter)
    if(Python3_Interpreter_FOUND)
      execute_process(
        COMMAND "${Python3_EXECUTABLE}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
        OUTPUT_VARIABLE _longform_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
        RESULT_VARIABLE _longform_torch_rc ERROR_QUIET)
      if(_longform_torch_rc EQUAL 0 AND _longform_torch_prefix)
        list(APPEND CMAKE_PREFIX_PATH "${_longform_torch_prefix}")
      endif()
    endif()
    find_package(Torch CONFIG)
  endif()
  if(NOT Torch_FOUND)
    message(FATAL_ERROR
      "longform: LibTorch 2.x not found. Set Torch_DIR or CMAKE_PREFIX_PATH to a LibTorch install, "
      "or make `python3 -c 'import torch'` work (pip install torch).")
  endif()
  # The PyPI wheel's libtorch_cuda.so finds its CUDA libraries (NCCL, cuBLAS, ...) in the sibling
  # nvidia/*/lib folders through its RUNPATH; the linker needs to be told, or it picks up an older
  # system copy (e.g. libnccl from a CUDA toolkit) and fails on missing symbols.
  get_filename_component(_longform_torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
  file(GLOB _longform_nvidia_lib_dirs LIST_DIRECTORIES true "${_longform_torch_lib_dir}/../../nvidia/*/lib")
  foreach(_dir IN LISTS _longform_nvidia_lib_dirs)
    set_property(TARGET torch APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:-rpath-link,${_dir}")
  endforeach()
  if(Torch_VERSION VERSION_LESS 2.0)
    message(WARNING "longform: LibTorch ${Torch_VERSION} is older than 2.0; only 2.x is supported.")
  endif()
endif()

# c10d's process groups (include/longform/distributed): LibTorch ships ProcessGroupGloo.hpp but
# not the Gloo headers it includes (Debian: libgloo-dev; only the headers are used, the code is in
# libtorch_cpu), and ProcessGroupNCCL.hpp needs nccl.h (the wheel's nvidia/nccl) and a CUDA
# LibTorch. LibTorch's headers compile those classes only under USE_C10D_GLOO / USE_C10D_NCCL;
# without them longform still builds and reports the missing backend when asked for it.
if(NOT TARGET longform::c10d)
  add_library(longform::c10d INTERFACE IMPORTED GLOBAL)
  find_path(LONGFORM_GLOO_INCLUDE_DIR gloo/algorithm.h DOC "Gloo headers for c10d::ProcessGroupGloo")
  if(LONGFORM_GLOO_INCLUDE_DIR)
    set_property(TARGET longform::c10d APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS USE_C10D_GLOO)
    set_property(TARGET longform::c10d APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${LONGFORM_GLOO_INCLUDE_DIR}")
  else()
    message(STATUS "longform: Gloo headers not found (Debian: libgloo-dev): no data-parallel training on CPU")
  endif()
  if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
    get_filename_component(_longform_torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
    find_path(LONGFORM_NCCL_INCLUDE_DIR nccl.h HINTS "${_longform_torch_lib_dir}/../../nvidia/nccl/include"
      DOC "nccl.h for c10d::ProcessGroupNCCL")
    if(LONGFORM_NCCL_INCLUDE_DIR)
      set_property(TARGET longform::c10d APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS USE_C10D_NCCL)
      set_property(TARGET longform::c10d APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${LONGFORM_NCCL_INCLUDE_DIR}")
    endif()
  endif()
endif()
