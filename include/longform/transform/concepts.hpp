// SPDX-License-Identifier: MIT
/// @file
/// The transform family: `ClipTransform`.
///
/// Protocol. A transform maps a `Clip` to a `Clip` (`t(std::move(clip))`): a pure function of the
/// clip and of the transform's own seeded random generator, so a run with the same seeds sees the
/// same augmentations. Random parameters (crop box, flip, jitter factors, …) are drawn once per
/// call and applied to every frame: augmentations are consistent across the clip.
/// Tensors follow the layout of `core/clip.hpp` (`[C, T, H, W]`; transforms address dimensions
/// from the end, so the deterministic ones also take batches `[B, C, T, H, W]`), and stay on the
/// device they come on: every transform runs on CPU and CUDA tensors alike.
///
/// Compose with `|`: `Resize{…} | CenterCrop{224} | Standardize{}` is again a `ClipTransform`.
///
/// Customization: any type with `using transform_concept = longform::transform_tag;` and
/// `Clip operator()(Clip)` is a transform. `transform_interface<Derived>` is an optional base that
/// derives the `Clip` and `ClipBatch` overloads from a tensor function `at::Tensor apply(const at::Tensor&)`.
#pragma once

#include <concepts>
#include <utility>

#include <ATen/core/Tensor.h>

#include <longform/core/clip.hpp>

namespace longform {

/// Opt-in tag: a type is a `ClipTransform` only if it says so.
struct transform_tag {};

namespace detail {
template <class T>
concept has_transform_tag = requires { typename T::transform_concept; } && std::same_as<typename T::transform_concept, transform_tag>;
}  // namespace detail

/// A clip-to-clip function object with an opt-in tag.
template <class T>
concept ClipTransform = detail::has_transform_tag<T> && std::move_constructible<T> && requires(T& t, Clip c) {
  { t(std::move(c)) } -> std::same_as<Clip>;
};

/// Whether a transform draws random parameters: it has its own generator (`rng`, as the random
/// transforms here do). `Compose` draws when either part does (transform/compose.hpp).
template <class T>
inline constexpr bool draws_at_random = requires(T& t) { t.rng; };

/// A transform whose output depends on the clip alone, so copies of it give the same result on
/// any thread: decode workers may each run one (`views::sample`'s `prepare`) and the clips stay
/// the same bytes, whatever the number of workers.
template <class T>
concept DeterministicTransform = ClipTransform<T> && std::copy_constructible<T> && !draws_at_random<T>;

namespace detail {
/// Compile-time diagnosis for the slots that take a transform: names what is missing in words.
template <class T>
consteval bool require_transform() {
  static_assert(has_transform_tag<T>,
                "longform: the type given as a transform is not a ClipTransform: it does not declare "
                "`using transform_concept = longform::transform_tag;` (see longform/transform/concepts.hpp)");
  static_assert(!has_transform_tag<T> || ClipTransform<T>,
                "longform: the type given as a transform is not a ClipTransform: it has the transform_tag but lacks "
                "`Clip operator()(Clip)`, or cannot be moved");
  return ClipTransform<T>;
}
/// The same for `views::sample`'s `prepare`, which decode workers copy and run on their threads.
template <class T>
consteval bool require_deterministic_transform() {
  if constexpr (!require_transform<T>()) {
    return false;
  } else {
    static_assert(!draws_at_random<T>,
                  "longform: views::sample's prepare must be deterministic, and this transform draws at random (it has "
                  "an `rng`): put it in views::transform after views::sample, where its draws follow the clips' order");
    static_assert(std::copy_constructible<T>, "longform: views::sample's prepare must be copyable: each decode worker runs its own copy");
    return DeterministicTransform<T>;
  }
}
}  // namespace detail

/// Optional convenience base: from `at::Tensor Derived::apply(const at::Tensor&)` it derives the
/// calls on tensors, clips (provenance kept) and batches.
template <class Derived>
struct transform_interface {
  using transform_concept = transform_tag;
  at::Tensor operator()(const at::Tensor& x) { return self().apply(x); }
  Clip operator()(Clip clip) {
    clip.data = self().apply(clip.data);
    return clip;
  }
  ClipBatch operator()(ClipBatch batch) {
    batch.data = self().apply(batch.data);
    return batch;
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

namespace detail {
/// `uint8` pixels to `float` in [0, 1]; other integer types to `float`; floating tensors as they are.
inline at::Tensor as_float(const at::Tensor& x) {
  if (x.scalar_type() == at::kByte) return x.to(at::kFloat).div_(255.0);
  if (!at::isFloatingType(x.scalar_type())) return x.to(at::kFloat);
  return x;
}
/// Checks that `x` is `[C, T, H, W]` or `[B, C, T, H, W]` with 3 channels (for colour transforms).
inline void check_video(const at::Tensor& x, const char* who, bool rgb = false) {
  TORCH_CHECK(x.defined(), who, ": clip has no data (was it sampled with decoding off?)");
  TORCH_CHECK(x.dim() == 4 || x.dim() == 5, who, ": expected [C, T, H, W] or [B, C, T, H, W], got ", x.sizes());
  TORCH_CHECK(!rgb || x.size(-4) == 3, who, ": expected 3 channels (RGB) in dimension -4, got ", x.sizes());
}
}  // namespace detail

}  // namespace longform
