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
  if(Torch_VERSION VERSION_LESS 2.0)
    message(WARNING "longform: LibTorch ${Torch_VERSION} is older than 2.0; only 2.x is supported.")
  endif()
endif()
