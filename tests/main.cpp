// SPDX-License-Identifier: MIT
// The one Catch2 main shared by every test executable (compiled once).
// A wide console: Catch wraps long test names at 80 columns when listing them, and CTest's test
// discovery would then register the pieces as tests that match nothing.
#define CATCH_CONFIG_CONSOLE_WIDTH 400
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
