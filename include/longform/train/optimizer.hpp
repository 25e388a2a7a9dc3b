// SPDX-License-Identifier: MIT
/// @file
/// The optimizer family of a `Pretrainer`: `OptimizerPolicy`, with `AdamW`, `SGD`, `RMSProp`, the
/// wrapper `Orthogonal<Inner>`, and the default `OptimizerFromOptions` (the one
/// `PretrainerOptions::optimizer` and `orthogonal` name at run time, as the `longform` command's
/// `--optimizer` and `--orthogonal` do).
///
///     Pretrainer<SequentialSampler<>, MoCo<X3D>, VideoList, SGD> trainer(videos, {.lr = 0.03, .momentum = 0.9});
///     Pretrainer<SequentialSampler<Stride<8>>, MoCo<X3DM>, VideoList, Orthogonal<RMSProp>> streaming(videos);
///
/// For a stream, where consecutive batches are alike: `RMSProp` steps without momentum (Carreira
/// et al., "Learning from one continuous video stream", CVPR 2024: momentum hurts there), and
/// `Orthogonal` steps on the part of each gradient orthogonal to the recent ones (train/orthogonal.hpp).
/// `PretrainerOptions::update_every` (fewer updates) is the Pretrainer's, for any optimizer.
///
/// Protocol. `policy.build(params, options)` makes the optimizer over the objective's trainable
/// parameters, once, at the first `run`. Before every step the Pretrainer sets the learning rate of
/// each parameter group to the schedule's (train/schedule.hpp); the rest (betas, momentum, weight
/// decay, parameter groups) is the policy's. A policy with `on_batch(const ClipBatch&,
/// torch::optim::Optimizer&)` hears of every batch before its loss is computed (`Orthogonal`
/// resets its averages at video boundaries there). Checkpoints store `torch::optim::AdamW`, `Adam`,
/// `SGD` and `RMSprop`, orthogonal or not (train/checkpoint.hpp): a Pretrainer with an `out_dir`
/// refuses any other before its first step.
///
/// Fused AdamW: LibTorch's C++ `torch::optim::AdamW` has no fused (or multi-tensor) variant, its
/// options being lr, betas, eps, weight_decay and amsgrad, so on CUDA too `AdamW` steps parameter
/// by parameter.
///
/// Customization: any copyable type with `using optimizer_concept = longform::optimizer_tag;` and
/// `std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions&) const`
/// (examples/custom_policies.cpp: AdamW without weight decay on biases and norms).
#pragma once

#include <concepts>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <longform/core/clip.hpp>
#include <longform/train/options.hpp>
#include <longform/train/orthogonal.hpp>

namespace longform {

/// Opt-in tag: a type is an `OptimizerPolicy` only if it says so.
struct optimizer_tag {};

namespace detail {
template <class P>
concept has_optimizer_tag = requires { typename P::optimizer_concept; } && std::same_as<typename P::optimizer_concept, optimizer_tag>;
}  // namespace detail

/// A policy that builds a Pretrainer's optimizer from the trainable parameters and the options.
template <class P>
concept OptimizerPolicy =
    detail::has_optimizer_tag<P> && std::copy_constructible<P> && requires(const P& p, std::vector<at::Tensor> params, const PretrainerOptions& o) {
      { p.build(std::move(params), o) } -> std::same_as<std::unique_ptr<torch::optim::Optimizer>>;
    };

/// `torch::optim::AdamW` with the options' lr, betas (beta1, beta2) and decoupled weight_decay.
struct AdamW {
  using optimizer_concept = optimizer_tag;
  [[nodiscard]] std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    return std::make_unique<torch::optim::AdamW>(
        std::move(params), torch::optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).weight_decay(o.weight_decay));
  }
};

/// `torch::optim::SGD` with the options' lr, momentum and (L2) weight_decay.
struct SGD {
  using optimizer_concept = optimizer_tag;
  [[nodiscard]] std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    return std::make_unique<torch::optim::SGD>(std::move(params), torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  }
};

/// `torch::optim::RMSprop` with the options' lr, `rms_alpha` and (L2) weight_decay, and no momentum.
struct RMSProp {
  using optimizer_concept = optimizer_tag;
  [[nodiscard]] std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    return std::make_unique<torch::optim::RMSprop>(std::move(params),
                                                   torch::optim::RMSpropOptions(o.lr).alpha(o.rms_alpha).weight_decay(o.weight_decay).momentum(0));
  }
};

namespace detail {
// An orthogonal optimizer's boundary rule hears the batch (train/orthogonal.hpp); others ignore it.
inline void tell_orthogonal(const ClipBatch& batch, torch::optim::Optimizer& optimizer) {
  if (auto* orthogonal = dynamic_cast<OrthogonalGradients*>(&optimizer)) orthogonal->on_batch(batch);
}
}  // namespace detail

/// `Inner`'s optimizer stepping on orthogonal gradients (train/orthogonal.hpp), the moving
/// average's decay `options.orthogonal_beta`. `Inner` must build AdamW, Adam, SGD or RMSprop.
template <OptimizerPolicy Inner>
struct Orthogonal {
  using optimizer_concept = optimizer_tag;
  [[no_unique_address]] Inner inner;
  [[nodiscard]] std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    return orthogonalize(inner.build(std::move(params), o), o.orthogonal_beta);
  }
  void on_batch(const ClipBatch& batch, torch::optim::Optimizer& optimizer) const { detail::tell_orthogonal(batch, optimizer); }
};

/// The default: `AdamW`, `SGD` or `RMSProp` as `options.optimizer` says, `Orthogonal` when
/// `options.orthogonal` (one type for all, chosen at run time).
struct OptimizerFromOptions {
  using optimizer_concept = optimizer_tag;
  [[nodiscard]] std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor> params, const PretrainerOptions& o) const {
    auto optimizer = o.optimizer == OptimizerKind::sgd       ? SGD{}.build(std::move(params), o)
                     : o.optimizer == OptimizerKind::rmsprop ? RMSProp{}.build(std::move(params), o)
                                                             : AdamW{}.build(std::move(params), o);
    return o.orthogonal ? orthogonalize(std::move(optimizer), o.orthogonal_beta) : std::move(optimizer);
  }
  void on_batch(const ClipBatch& batch, torch::optim::Optimizer& optimizer) const { detail::tell_orthogonal(batch, optimizer); }
};

namespace detail {
/// Compile-time diagnosis for the Pretrainer's optimizer slot: names what is missing in words.
template <class P>
consteval bool require_optimizer() {
  static_assert(has_optimizer_tag<P>,
                "longform: the type given as the Pretrainer's optimizer is not an OptimizerPolicy: it does not declare "
                "`using optimizer_concept = longform::optimizer_tag;` (longform::AdamW, SGD and RMSProp are; see "
                "longform/train/optimizer.hpp)");
  static_assert(!has_optimizer_tag<P> || OptimizerPolicy<P>,
                "longform: the type given as the Pretrainer's optimizer is not an OptimizerPolicy: it has the optimizer_tag but "
                "lacks `std::unique_ptr<torch::optim::Optimizer> build(std::vector<at::Tensor>, const PretrainerOptions&) const`, "
                "or cannot be copied");
  return OptimizerPolicy<P>;
}
}  // namespace detail

}  // namespace longform
