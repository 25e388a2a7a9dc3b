// SPDX-License-Identifier: MIT
// The view of the library that both units of test_odr compile on their own and compare.
#pragma once

#include <string>

#include <longform/longform.hpp>

#include "odr.hpp"
#include "../catch.hpp"

namespace odr_test {

inline Seen seen_here() {
  longform::SequentialSampler<longform::Frames<4>, longform::Stride<2>> sampler;
  return {.version = longform::version_string,
          .sample = &longform::views::sample,
          .batch = &longform::views::batch,
          .span = sampler.span(),
          .width = longform::detail::round_width(24, 2.0),
          .factory_slot = &longform::detail::collective_factory,
          .c10d_installed = longform::detail::collective_factory == &longform::detail::make_process_group};
}

// The other unit's view equals this one's: one object per inline variable, one value per function.
inline void check_same(const Seen& here, const Seen& there) {
  CHECK(there.version == here.version);
  CHECK(there.sample == here.sample);
  CHECK(there.batch == here.batch);
  CHECK(there.span == here.span);
  CHECK(there.width == here.width);
  CHECK(there.factory_slot == here.factory_slot);
  CHECK(here.c10d_installed);
  CHECK(there.c10d_installed);
  CHECK(std::string(here.version) ==
        std::to_string(LONGFORM_VERSION_MAJOR) + "." + std::to_string(LONGFORM_VERSION_MINOR) + "." + std::to_string(LONGFORM_VERSION_PATCH));
}

}  // namespace odr_test
