# Header-only dependencies from LONGFORM_VENDOR_DIR, laid out by scripts/gpu-vendor: include/ with
# range-v3, the Boost headers Hana needs, Catch2's single header, CLI11, nlohmann-json and fmt; cmake/
# with Catch2's test-discovery modules. For machines that have LibTorch and a compiler but none
# of our Debian packages (scripts/gpu-check). Defines the targets the find_package calls would.
include_guard(GLOBAL)

if(NOT EXISTS "${LONGFORM_VENDOR_DIR}/include/range/v3/all.hpp")
  message(FATAL_ERROR "longform: LONGFORM_VENDOR_DIR=${LONGFORM_VENDOR_DIR} has no vendored headers; run scripts/gpu-vendor first")
endif()
foreach(_target range-v3::range-v3 Boost::headers Catch2::Catch2 CLI11::CLI11 nlohmann_json::nlohmann_json fmt::fmt)
  add_library(${_target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LONGFORM_VENDOR_DIR}/include")
endforeach()
set_property(TARGET fmt::fmt PROPERTY INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
list(APPEND CMAKE_MODULE_PATH "${LONGFORM_VENDOR_DIR}/cmake")  # Catch.cmake, CatchAddTests.cmake
