// SPDX-License-Identifier: MIT
/// @file
/// How a `Pretrainer` prepares each clip before batching it: any `DeterministicTransform`
/// (transform/concepts.hpp); by default the paper's `PaperPreparation`, which resizes the short side
/// to `PretrainerOptions::size`, crops the centre square of that side, and standardizes each frame.
///
///     auto x3d_input = ShortSideScale{.size = 128} | CenterCrop(112) | Normalize{};  // mean 0.45, std 0.225
///     Pretrainer trainer{videos, sampler, objective, options, AdamW{}, x3d_input};
///
/// Where it runs: on CPU, on the decode workers, each with its own copy (`views::sample`'s
/// `prepare`); on CUDA, on the GPU, after the `uint8` clips went up (pipeline/prefetch.hpp). Either
/// way every clip must come out the same whatever the number of workers, so a transform that draws
/// at random is refused at compile time: random augmentations belong in the objective, which draws
/// them from its own checkpointed generator (as MoCo draws its views). A preparation of your own
/// leaves `PretrainerOptions::size` unused.
///
/// Customization: any `DeterministicTransform` type, given to the Pretrainer's constructor (or
/// default-built when not given).
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>

#include <longform/train/options.hpp>
#include <longform/transform/center_crop.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>
#include <longform/transform/resize.hpp>
#include <longform/transform/standardize.hpp>

namespace longform {

/// The paper's preparation: `ShortSideScale{size} | CenterCrop{size} | Standardize{}`.
using PaperPreparation = Compose<Compose<ShortSideScale, CenterCrop>, Standardize>;

/// `PaperPreparation` at `size` × `size`.
[[nodiscard]] inline PaperPreparation paper_preparation(std::int64_t size) { return ShortSideScale{.size = size} | CenterCrop(size) | Standardize{}; }

namespace detail {
/// Compile-time diagnosis for the Pretrainer's preparation slot: names what is wrong in words.
template <class P>
consteval bool require_preparation() {
  if constexpr (!require_transform<P>()) {
    return false;
  } else {
    static_assert(!draws_at_random<P>,
                  "longform: the Pretrainer's clip preparation must be deterministic, and this transform draws at random (it has "
                  "an `rng`): decode workers run it, each with its own copy; draw random augmentations in the objective, from "
                  "its own generator (as MoCo draws its views)");
    static_assert(std::copy_constructible<P>, "longform: the Pretrainer's clip preparation must be copyable: each decode worker runs its own copy");
    return DeterministicTransform<P>;
  }
}

/// A preparation the Pretrainer can build when given none: the paper's, or a default-built one.
template <class P>
concept default_preparation_available = std::same_as<P, PaperPreparation> || std::default_initializable<P>;

/// That preparation: the paper's at `options.size`, else `P{}`.
template <class P>
  requires default_preparation_available<P>
P default_preparation(const PretrainerOptions& options) {
  if constexpr (std::same_as<P, PaperPreparation>)
    return paper_preparation(options.size);
  else
    return P{};
}
}  // namespace detail

}  // namespace longform
