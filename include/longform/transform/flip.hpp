// SPDX-License-Identifier: MIT
/// @file
/// `HorizontalFlip`: mirror every frame left–right with probability `p` (one draw per clip).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include <longform/core/splitmix.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Random horizontal flip, the same for all frames of a clip; any dtype. `p = 1` always flips.
struct HorizontalFlip : transform_interface<HorizontalFlip> {
  double p = 0.5;
  std::uint64_t seed = 0;
  SplitMix64 rng{seed};  ///< the transform's own generator, seeded from `seed`

  at::Tensor apply(const at::Tensor& x) {
    detail::check_video(x, "longform::HorizontalFlip");
    return rng.uniform() < p ? x.flip({-1}) : x;
  }
};

static_assert(ClipTransform<HorizontalFlip>);

}  // namespace longform
