// SPDX-License-Identifier: MIT
// The one-definition rule across translation units: two units include <longform/longform.hpp>
// (every header) and link into one program. A header that defines a non-inline function or
// variable fails the link; an inline variable must be one object, at one address, in both. Each
// unit checks the other's view against its own (seen.hpp).
#include "seen.hpp"

odr_test::Seen odr_test::seen_by_first() { return seen_here(); }

TEST_CASE("two translation units that include every header link and share each inline entity (first unit)", "[odr]") {
  odr_test::check_same(odr_test::seen_here(), odr_test::seen_by_second());
}
