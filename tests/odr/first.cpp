// SPDX-License-Identifier: MIT
// The one-definition rule across translation units: two units include <longform/longform.hpp>
// (every header) and link into one program. A header that defines a non-inline function or
// variable fails the link; an inline variable must be one object, at one address, in both.
#include <string>

#include <longform/longform.hpp>

#include "odr.hpp"
#include "../catch.hpp"

TEST_CASE("two translation units that include every header link and share each inline entity", "[odr]") {
  const odr_test::Seen second = odr_test::seen_by_second();
  longform::SequentialSampler<longform::Frames<4>, longform::Stride<2>> sampler;
  CHECK(second.version == longform::version_string);
  CHECK(second.sample == &longform::views::sample);
  CHECK(second.batch == &longform::views::batch);
  CHECK(second.span == sampler.span());
  CHECK(second.width == longform::detail::round_width(24, 2.0));
  CHECK(std::string(longform::version_string) ==
        std::to_string(LONGFORM_VERSION_MAJOR) + "." + std::to_string(LONGFORM_VERSION_MINOR) + "." + std::to_string(LONGFORM_VERSION_PATCH));
}
