// SPDX-License-Identifier: MIT
// The second of two translation units that include every header (see first.cpp): what it sees of
// the library's inline entities, for the first to compare.
#include <longform/longform.hpp>

#include "odr.hpp"

namespace odr_test {

Seen seen_by_second() {
  longform::SequentialSampler<longform::Frames<4>, longform::Stride<2>> sampler;
  return {.version = longform::version_string,
          .sample = &longform::views::sample,
          .batch = &longform::views::batch,
          .span = sampler.span(),
          .width = longform::detail::round_width(24, 2.0)};
}

}  // namespace odr_test
