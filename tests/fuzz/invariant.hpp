// SPDX-License-Identifier: MIT
// The fuzz targets' assertion: a broken invariant names itself on stderr and aborts, which
// libFuzzer reports as a crash and saves the input for. (Not `assert`: it must hold in every
// build type, and Catch is not linked into the targets.)
#pragma once

#include <cstdio>
#include <cstdlib>

#define LONGFORM_FUZZ_REQUIRE(condition)                                                     \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
