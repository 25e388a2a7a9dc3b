# Helpers for the in-repo test suite (not installed).
include_guard(GLOBAL)

# longform_add_test(NAME SOURCES...): one Catch2 executable, its cases registered with CTest.
# Test cases that need real footage carry the tag [videos]; they get the fetch fixture. Each case
# is labelled with NAME (`ctest -L test_io`).
# The `longform` command the tests run: this build's, or LONGFORM_TEST_CLI (the sanitizer stage of
# scripts/test reuses the main build's, so that it compiles only the test programs).
set(LONGFORM_TEST_CLI "" CACHE FILEPATH "A built `longform` command for the tests to run (default: this build's)")
function(longform_add_test name)
  add_executable(${name} ${ARGN} $<TARGET_OBJECTS:longform_catch_main>)
  target_link_libraries(${name} PRIVATE longform_dev Catch2::Catch2 nlohmann_json::nlohmann_json fmt::fmt)
  # -O1 in a Release build: a third less compile time than -O3 (tests/train/pretrainer.cpp: 60 s
  # against 89 s CPU), and a test's run time is LibTorch's and FFmpeg's, which come built. The
  # programs users run (the `longform` command, examples, benchmarks) stay at -O3.
  target_compile_options(${name} PRIVATE $<$<CONFIG:Release>:-O1>)
  target_compile_definitions(${name} PRIVATE
    LONGFORM_TEST_DATA_DIR="${LONGFORM_DATA_DIR}"
    LONGFORM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(LONGFORM_TEST_CLI)
    target_compile_definitions(${name} PRIVATE LONGFORM_CLI="${LONGFORM_TEST_CLI}")
  elseif(TARGET longform_cli)  # absent without FFmpeg
    target_compile_definitions(${name} PRIVATE LONGFORM_CLI="$<TARGET_FILE:longform_cli>")
    add_dependencies(${name} longform_cli)
  endif()
  catch_discover_tests(${name} PROPERTIES FIXTURES_REQUIRED videos TIMEOUT 300 LABELS ${name}
    ENVIRONMENT "OMP_NUM_THREADS=1")
endfunction()

# longform_add_header_checks(TARGET INCLUDE_DIR): one generated TU per public header.
function(longform_add_header_checks target include_dir)
  file(GLOB_RECURSE headers RELATIVE ${include_dir} CONFIGURE_DEPENDS ${include_dir}/longform/*.hpp)
  set(sources)
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER ${h} id)
    set(src ${CMAKE_CURRENT_BINARY_DIR}/header_checks/${id}.cpp)
    file(CONFIGURE OUTPUT ${src} CONTENT "#include <${h}>\n#include <${h}>  // and include guards work\n")
    list(APPEND sources ${src})
  endforeach()
  add_library(${target} OBJECT ${sources})
  target_link_libraries(${target} PRIVATE longform_dev)
endfunction()

# longform_add_compile_fail_test(FILE): FILE must fail to compile, its first error matching the
# regex on its first line ("// expected-error: REGEX").
function(longform_add_compile_fail_test file)
  get_filename_component(stem ${file} NAME_WE)
  file(STRINGS ${file} first LIMIT_COUNT 1)
  string(REGEX REPLACE "^// expected-error: *" "" regex "${first}")
  set(target compile_fail_${stem})
  add_library(${target} OBJECT EXCLUDE_FROM_ALL ${file})
  target_link_libraries(${target} PRIVATE longform_dev)
  longform_use_torch_pch(${target})
  # The library's sentence is the first error; stopping there also spares the instantiations that
  # fail after it (a Pretrainer case: 11 s instead of 45).
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-fmax-errors=1> $<$<CXX_COMPILER_ID:Clang>:-ferror-limit=1>)
  add_test(NAME compile_fail.${stem}
    COMMAND ${CMAKE_COMMAND} --build ${PROJECT_BINARY_DIR} --target ${target})
  set_tests_properties(compile_fail.${stem} PROPERTIES
    PASS_REGULAR_EXPRESSION "${regex}" RESOURCE_LOCK build_tree TIMEOUT 300)
endfunction()
