// SPDX-License-Identifier: MIT
// The second unit of test_odr (see first.cpp).
#include "seen.hpp"

odr_test::Seen odr_test::seen_by_second() { return seen_here(); }

TEST_CASE("two translation units that include every header link and share each inline entity (second unit)", "[odr]") {
  odr_test::check_same(odr_test::seen_here(), odr_test::seen_by_first());
}
