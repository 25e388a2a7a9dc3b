// SPDX-License-Identifier: MIT
/// @file
/// `RandomGrayscale`: with probability `p`, every frame of a clip becomes grey (ITU-R 601 luma,
/// torchvision's weights), replicated to three channels.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include <longform/core/splitmix.hpp>
#include <longform/transform/color_jitter.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Replaces a clip by its grey version (replicated to 3 channels) with probability `p` (MoCo v2: 0.2).
struct RandomGrayscale : transform_interface<RandomGrayscale> {
  double p = 0.2;
  std::uint64_t seed = 0;
  SplitMix64 rng{seed};  ///< the transform's own generator, seeded from `seed`

  at::Tensor apply(const at::Tensor& x) {
    detail::check_video(x, "longform::RandomGrayscale", /*rgb=*/true);
    const at::Tensor f = detail::as_float(x);
    if (!(rng.uniform() < p)) return f;
    return detail::grey(f).expand_as(f).contiguous();
  }
};

static_assert(ClipTransform<RandomGrayscale>);

}  // namespace longform
