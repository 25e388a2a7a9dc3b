// SPDX-License-Identifier: MIT
/// @file
/// `detail::ObjectiveHolder<Impl>`: the part `MoCo`, `VideoMAE` and `Distill` share. Each is a
/// `torch::nn::ModuleHolder` of its module, written by hand because `TORCH_MODULE` cannot wrap a
/// class template, and forwards the `SslObjective` protocol (objective/concepts.hpp) to it.
// IWYU pragma: private, include <longform/objective.hpp>
#pragma once

#include <longform/core/clip.hpp>
#include <longform/objective/concepts.hpp>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace longform::detail {

/// An `SslObjective` holding the module `M`, which provides `at::Tensor loss(const ClipBatch&)`,
/// `std::vector<at::Tensor> trainable_parameters()` and `void after_step()`. As with every
/// `ModuleHolder`, copies share the module; `->` reaches its members.
template <class M>
class ObjectiveHolder : public torch::nn::ModuleHolder<M> {
 public:
  using torch::nn::ModuleHolder<M>::ModuleHolder;
  /// The module type.
  using Impl = M;
  /// Opts in to `longform::SslObjective`.
  using objective_concept = objective_tag;

  /// The module's loss of one batch.
  at::Tensor loss(const ClipBatch& batch) { return this->get()->loss(batch); }
  /// The module's trainable parameters: what the optimizer steps (no momentum copy, no frozen teacher).
  std::vector<at::Tensor> parameters() { return this->get()->trainable_parameters(); }
  /// The module's updates that follow the optimizer step.
  void after_step() { this->get()->after_step(); }
  /// The root module to checkpoint and move.
  torch::nn::Module& module() { return *this->get(); }
};

}  // namespace longform::detail
