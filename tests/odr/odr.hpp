// SPDX-License-Identifier: MIT
// What each of the two translation units of test_odr sees of the library's inline entities; each
// unit checks its own view against the other's.
#pragma once

#include <cstdint>

namespace odr_test {

struct Seen {
  const char* version;
  const void* sample;  // an inline constexpr function object
  const void* batch;
  std::int64_t span;         // a sampler built in that unit
  std::int64_t width;        // an inline function
  const void* factory_slot;  // the inline variable distributed/process_group.hpp installs c10d into
  bool c10d_installed;       // before main, whichever unit initialized it
};

Seen seen_by_first();
Seen seen_by_second();

}  // namespace odr_test
