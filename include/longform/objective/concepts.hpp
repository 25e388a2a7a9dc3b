// SPDX-License-Identifier: MIT
/// @file
/// The objective family: `SslObjective`, what a `Pretrainer` needs from a self-supervised loss.
///
/// Protocol, once per training step of a `Pretrainer`:
///   1. `o.loss(batch)`: a scalar `at::Tensor` with autograd history. `batch.data` is the
///      `[B, C, T, H, W]` float clips of the pipeline (standardised, on the training device); the
///      objective makes whatever views it needs from it (MoCo: two augmentations; VideoMAE: a tube
///      mask; distillation: the teacher's targets) with its own seeded RNG.
///   2. the Pretrainer back-propagates, clips gradients and steps the optimizer over
///      `o.parameters()` (trainable parameters only: no momentum encoder, no frozen teacher);
///   3. `o.after_step()`: updates that follow the optimizer step (momentum encoder, queue).
/// `o.module()` is the root `torch::nn::Module` holding everything to checkpoint (trainable
/// modules, momentum copies, queues as buffers), so `state_dict`-style save/load covers it;
/// `o.module().to(device)` moves it.
///
/// Customization: any type with `using objective_concept = longform::objective_tag;` and these
/// members is an objective; no base class, no registration (examples/custom_objective.cpp).
#pragma once

#include <concepts>
#include <functional>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <longform/core/clip.hpp>

// NOTE: a forward declaration is enough for the `module()` requirement and keeps this header off
// the 9 s parse of <torch/nn/module.h>.
namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace longform {

/// Opt-in tag: a type is an `SslObjective` only if it says so.
struct objective_tag {};

namespace detail {
template <class O>
concept has_objective_tag = requires { typename O::objective_concept; } && std::same_as<typename O::objective_concept, objective_tag>;
}  // namespace detail

/// A self-supervised objective usable by `Pretrainer` (see the protocol above).
template <class O>
concept SslObjective = detail::has_objective_tag<O> && requires(O& o, const ClipBatch& batch) {
  { o.loss(batch) } -> std::same_as<at::Tensor>;
  { o.parameters() } -> std::same_as<std::vector<at::Tensor>>;
  o.after_step();
  { o.module() } -> std::same_as<torch::nn::Module&>;
};

/// An objective that draws its randomness (augmentations, masks) from its own generator and shows
/// it, so checkpoints save and restore it: `at::Generator generator()` (a handle; copies share state).
template <class O>
concept ObjectiveWithGenerator = SslObjective<O> && requires(O& o) {
  { o.generator() } -> std::convertible_to<at::Generator>;
};

/// An objective that shares samples across the ranks of a data-parallel job: `set_key_gather(f)`
/// with `f(t)` = every rank's `t` concatenated along dim 0 (MoCo's queue keys).
template <class O>
concept ObjectiveWithKeyGather =
    SslObjective<O> && requires(O& o, std::function<at::Tensor(const at::Tensor&)> f) { o.set_key_gather(std::move(f)); };

namespace detail {
/// Compile-time diagnosis for the slots that take an objective: names what is missing in words.
template <class O>
consteval bool require_objective() {
  static_assert(has_objective_tag<O>,
                "longform: the type given as an objective is not an SslObjective: it does not declare "
                "`using objective_concept = longform::objective_tag;` (see longform/objective/concepts.hpp)");
  static_assert(!has_objective_tag<O> || SslObjective<O>,
                "longform: the type given as an objective is not an SslObjective: it has the objective_tag but lacks "
                "`at::Tensor loss(const ClipBatch&)`, `std::vector<at::Tensor> parameters()`, `after_step()` or "
                "`torch::nn::Module& module()`");
  return SslObjective<O>;
}
}  // namespace detail

}  // namespace longform
