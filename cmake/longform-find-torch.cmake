# Finds LibTorch 2.x. Order: Torch_DIR / CMAKE_PREFIX_PATH as the user set them, then the
# CMake package shipped inside the Python `torch` wheel (torch.utils.cmake_prefix_path).
# Shared by the build tree and by the installed longform-config.cmake.
include_guard(GLOBAL)

# ON: the `torch` target is made straight from the Python wheel's headers and libraries, skipping
# its CMake config, which for a CUDA wheel wants a whole CUDA toolkit (nvcc, cuDNN, ...) although
# longform needs no CUDA header: CUDA is reached through LibTorch's device-generic API.
option(LONGFORM_TORCH_FROM_WHEEL "Link the Python torch wheel's libraries without its CMake config" OFF)

if(NOT TARGET torch AND LONGFORM_TORCH_FROM_WHEEL)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
      "import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.__version__.split('+')[0])"
    OUTPUT_VARIABLE _longform_wheel OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _longform_wheel_rc)
  if(NOT _longform_wheel_rc EQUAL 0)
    message(FATAL_ERROR "longform: LONGFORM_TORCH_FROM_WHEEL needs `${Python3_EXECUTABLE} -c 'import torch'` to work")
  endif()
  string(REPLACE "\n" ";" _longform_wheel "${_longform_wheel}")
  list(GET _longform_wheel 0 _longform_torch_dir)
  list(GET _longform_wheel 1 _longform_torch_abi)
  list(GET _longform_wheel 2 Torch_VERSION)
  set(TORCH_LIBRARY "${_longform_torch_dir}/lib/libtorch.so")
  set(_longform_torch_libs)
  foreach(_lib torch torch_cpu c10 torch_cuda c10_cuda)  # the CUDA two only in CUDA wheels
    if(EXISTS "${_longform_torch_dir}/lib/lib${_lib}.so")
      list(APPEND _longform_torch_libs "${_longform_torch_dir}/lib/lib${_lib}.so")
    endif()
  endforeach()
  add_library(torch INTERFACE IMPORTED GLOBAL)
  set_target_properties(torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_longform_torch_dir}/include;${_longform_torch_dir}/include/torch/csrc/api/include"
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=${_longform_torch_abi}"
    # --no-as-needed: nothing calls into libtorch_cuda directly, but loading it registers CUDA.
    INTERFACE_LINK_LIBRARIES "-Wl,--no-as-needed;${_longform_torch_libs};-Wl,--as-needed"
    INTERFACE_LINK_OPTIONS "LINKER:-rpath,${_longform_torch_dir}/lib")
  set(Torch_FOUND TRUE)
  message(STATUS "longform: LibTorch ${Torch_VERSION} from the wheel at ${_longform_torch_dir}")
endif()

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
  if(Torch_VERSION VERSION_LESS 2.0)
    message(WARNING "longform: LibTorch ${Torch_VERSION} is older than 2.0; only 2.x is supported.")
  endif()
endif()

# The PyPI wheel's libtorch_cuda.so finds its CUDA libraries (NCCL, cuBLAS, ...) in the sibling
# nvidia/*/lib folders through its RUNPATH; the linker needs to be told, or it picks up an older
# system copy (e.g. libnccl from a CUDA toolkit) or none, and fails on missing symbols.
if(TORCH_LIBRARY)
  get_filename_component(_longform_torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
  file(GLOB _longform_nvidia_lib_dirs LIST_DIRECTORIES true "${_longform_torch_lib_dir}/../../nvidia/*/lib")
  foreach(_dir IN LISTS _longform_nvidia_lib_dirs)
    set_property(TARGET torch APPEND PROPERTY INTERFACE_LINK_OPTIONS "LINKER:-rpath-link,${_dir}")
  endforeach()
endif()

# c10d's process groups (include/longform/distributed): LibTorch ships ProcessGroupGloo.hpp but
# not the Gloo headers it includes (Debian: libgloo-dev; only the headers are used, the code is in
# libtorch_cpu), and ProcessGroupNCCL.hpp needs nccl.h (the wheel's nvidia/nccl) and a CUDA
# LibTorch. LibTorch's headers compile those classes only under USE_C10D_GLOO / USE_C10D_NCCL;
# without them longform still builds and reports the missing backend when asked for it. Only
# longform::distributed links this target: longform::longform alone compiles no c10d.
if(NOT TARGET longform::c10d)
  add_library(longform::c10d INTERFACE IMPORTED GLOBAL)
  if(LONGFORM_VENDOR_DIR)  # a vendored build (scripts/gpu-check) takes no header from the system
    find_path(LONGFORM_GLOO_INCLUDE_DIR gloo/algorithm.h PATHS "${LONGFORM_VENDOR_DIR}/include" NO_DEFAULT_PATH
      DOC "Gloo headers for c10d::ProcessGroupGloo")
  else()
    find_path(LONGFORM_GLOO_INCLUDE_DIR gloo/algorithm.h DOC "Gloo headers for c10d::ProcessGroupGloo")
  endif()
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
