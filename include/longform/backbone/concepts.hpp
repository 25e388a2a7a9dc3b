// SPDX-License-Identifier: MIT
/// @file
/// The `Backbone` concept: what an SSL objective needs from a video network.
///
/// Customization points (a type models `Backbone` when it provides all of them):
///   - `using backbone_concept = longform::backbone_tag;`  opt-in tag: look-alikes do not match by accident
///   - it is a `torch::nn::Module` (so `parameters()`, `train()`, `clone()` work)
///   - `forward(at::Tensor) -> at::Tensor`                 `[N, 3, T, H, W]` clip in, `[N, feature_dim()]` out
///   - `feature_dim() const -> std::int64_t`               width of `forward`'s output
///
/// A module holder (`X3D`, `VideoViT`) models the concept through its `Impl`, so both
/// `Backbone<X3DImpl>` and `Backbone<X3D>` hold.
#pragma once

#include <ATen/core/Tensor.h>

#include <concepts>
#include <cstdint>
#include <type_traits>

// NOTE: a forward declaration is enough for `std::derived_from`, and keeps this header off the
// 9 s parse of <torch/nn/module.h>.
namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace longform {

/// The opt-in tag a backbone names as `backbone_concept`; look-alike modules do not match by accident.
struct backbone_tag {};

namespace detail {
/// `T::ContainedType` for a `torch::nn::ModuleHolder`, `T` itself otherwise.
template <class T>
struct backbone_impl {
  using type = T;
};
template <class T>
  requires requires { typename T::ContainedType; }
struct backbone_impl<T> {
  using type = typename T::ContainedType;
};
}  // namespace detail

/// The module type behind `T`: the `Impl` of a holder, or `T` itself.
template <class T>
using backbone_impl_t = typename detail::backbone_impl<std::remove_cvref_t<T>>::type;

/// A video network usable as the encoder of an SSL objective (see the file comment).
template <class B>
concept Backbone =
    std::same_as<typename backbone_impl_t<B>::backbone_concept, backbone_tag> && std::derived_from<backbone_impl_t<B>, torch::nn::Module> &&
    requires(backbone_impl_t<B>& b, const backbone_impl_t<B>& cb, const at::Tensor& clip) {
      { b.forward(clip) } -> std::same_as<at::Tensor>;
      { cb.feature_dim() } -> std::convertible_to<std::int64_t>;
    };

}  // namespace longform
