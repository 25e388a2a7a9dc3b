// SPDX-License-Identifier: MIT
/// @file
/// `FrameShuffle`: a random temporal permutation of a clip's frames (the paper's random clips
/// shuffle their frames; `RandomSampler` does it at sampling time, this does it afterwards, e.g. to
/// make a shuffled view of a sequential clip). The clip's `frames` and `seconds` are permuted alike.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/tensor.h>

#include <longform/core/clip.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// Shuffles the T dimension (with probability `p`); any dtype; provenance follows the frames.
struct FrameShuffle {
  using transform_concept = transform_tag;
  double p = 1.0;
  std::uint64_t seed = 0;
  SplitMix64 rng{seed};  ///< the transform's own generator, seeded from `seed`

  /// A permutation of `0..t-1` (the identity when the draw says not to shuffle).
  std::vector<std::int64_t> draw(std::int64_t t) {
    std::vector<std::int64_t> perm(static_cast<std::size_t>(t));
    std::iota(perm.begin(), perm.end(), std::int64_t{0});
    if (rng.uniform() < p) {
      detail::shuffle(perm, rng);
    }
    return perm;
  }

  Clip operator()(Clip clip) {
    detail::check_video(clip.data, "longform::FrameShuffle");
    TORCH_CHECK(clip.data.dim() == 4, "longform::FrameShuffle: expected one clip [C, T, H, W], got ", clip.data.sizes());
    const auto perm = draw(clip.data.size(1));
    clip.data = clip.data.index_select(1, at::tensor(perm, at::TensorOptions().dtype(at::kLong)).to(clip.data.device()));
    auto permute = [&](auto& v) {
      if (v.size() != perm.size()) return;
      auto old = v;
      for (std::size_t t = 0; t < perm.size(); ++t) v[t] = old[static_cast<std::size_t>(perm[t])];
    };
    permute(clip.frames);
    permute(clip.seconds);
    return clip;
  }
};

static_assert(ClipTransform<FrameShuffle>);

}  // namespace longform
