// SPDX-License-Identifier: MIT
/// @file
/// Orthogonal gradients (Han et al., "Learning from streaming video with orthogonal gradients",
/// CVPR 2025): on a continuous stream consecutive gradients point almost the same way, and the
/// optimizer keeps pushing in that direction. `OrthogonalGradients` keeps `c`, a moving average of
/// the gradient, and hands the optimizer only the part of each new gradient orthogonal to it:
///
///     u_t = g_t − (g_t·c_{t−1} / c_{t−1}·c_{t−1}) c_{t−1}      (u_t = g_t while c is zero)
///     c_t = β c_{t−1} + (1 − β) g_t                          (the raw gradient, not u_t)
///
/// per parameter tensor: each tensor's gradient is projected against its own average. The paper
/// states the rule for the gradient as a whole; per tensor, as optimizers apply their rules, a
/// layer with large gradients does not decide the projection of every other layer, and no
/// reduction across tensors is needed.
///
/// In a Pretrainer the gradient is the step's: averaged over `update_every` batches and clipped;
/// the gradient norm it reports is that of this gradient before the projection.
///
/// The average starts again at a video boundary, where the stream's content changes: when a
/// batch holds a video that the previous batch did not (`on_batch`). So a sequential stream
/// resets once per video, a multistream batch whenever one of its streams moves to a new video,
/// and a random sampler, whose every batch brings new videos, steps on the raw gradients.
///
///     auto optimizer = longform::orthogonalize(std::make_unique<torch::optim::AdamW>(params), 0.9);
///
/// `Orthogonalized<Base>` derives from the optimizer it wraps (AdamW, Adam, SGD or RMSprop), so
/// its parameter groups, options and state are that optimizer's and checkpoints store it under
/// its own type, with the averages and the previous batch's videos beside (train/checkpoint.hpp).
///
/// Customization: the Pretrainer's policy is `Orthogonal<Inner>` or `PretrainerOptions::orthogonal`
/// (train/optimizer.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <typeinfo>
#include <utility>
#include <vector>

#include <ATen/core/grad_mode.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/dot.h>
#include <ATen/ops/where.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>

namespace longform {

/// The moving average of the gradient and the projection against it (see the file comment).
class OrthogonalGradients {
 public:
  explicit OrthogonalGradients(double beta) : beta_(beta) {}
  virtual ~OrthogonalGradients() = default;

  [[nodiscard]] double beta() const noexcept { return beta_; }
  /// The average of each parameter's gradient, in the optimizer's parameter order (over its
  /// groups); undefined before the parameter's first gradient and after a reset.
  [[nodiscard]] const std::vector<at::Tensor>& averages() const noexcept { return averages_; }
  /// The videos of the last batch seen (sorted).
  [[nodiscard]] const std::vector<std::int64_t>& videos() const noexcept { return videos_; }
  /// Restores what `averages` and `videos` returned (a checkpoint's).
  void restore(double beta, std::vector<at::Tensor> averages, std::vector<std::int64_t> videos) {
    beta_ = beta;
    averages_ = std::move(averages);
    videos_ = std::move(videos);
  }

  /// Forgets the averages: the next gradients pass unchanged.
  void reset() { std::ranges::fill(averages_, at::Tensor()); }

  /// Resets at a video boundary: when `batch` holds a video the previous batch did not. Returns
  /// whether it did.
  bool on_batch(const ClipBatch& batch) {
    std::vector<std::int64_t> videos;
    for (const auto& clip : batch.clips) videos.push_back(static_cast<std::int64_t>(clip.video));
    std::ranges::sort(videos);
    videos.erase(std::ranges::unique(videos).begin(), videos.end());
    const bool boundary = !std::ranges::includes(videos_, videos);
    videos_ = std::move(videos);
    if (boundary) reset();
    return boundary;
  }

 protected:
  // Replaces every gradient of `groups` by its part orthogonal to its average, then moves the
  // average towards the raw gradient. On the device, without a host sync.
  void project(std::vector<torch::optim::OptimizerParamGroup>& groups) {
    at::NoGradGuard no_grad;
    std::size_t n = 0;
    for (const auto& group : groups) n += group.params().size();
    averages_.resize(n);
    std::size_t k = 0;
    for (auto& group : groups) {
      for (auto& p : group.params()) {
        at::Tensor& c = averages_[k++];
        if (!p.grad().defined()) continue;
        at::Tensor& g = p.mutable_grad();
        if (!c.defined()) {
          c = g.mul(1 - beta_);
          continue;
        }
        const at::Tensor gc = at::dot(g.reshape({-1}), c.reshape({-1}));
        const at::Tensor cc = at::dot(c.reshape({-1}), c.reshape({-1}));
        const at::Tensor along = c.mul(at::where(cc.gt(0), gc.div(cc), 0));  // an average of zero gradients projects nothing
        c.mul_(beta_).add_(g, 1 - beta_);
        g.sub_(along);
      }
    }
  }

 private:
  double beta_;
  std::vector<at::Tensor> averages_;
  std::vector<std::int64_t> videos_;
};

/// `Base` (a LibTorch optimizer) stepping on orthogonal gradients.
template <class Base>
class Orthogonalized final : public Base, public OrthogonalGradients {
 public:
  Orthogonalized(Base&& inner, double beta) : Base(std::move(inner)), OrthogonalGradients(beta) {}

  /// Projects the gradients, then steps `Base`. @throws c10::Error for a closure: it would compute
  /// new gradients after the projection.
  at::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    TORCH_CHECK(!closure, "longform::Orthogonalized: step takes no closure (it would recompute the gradients after their projection)");
    project(this->param_groups());
    return Base::step();
  }
};

/// `inner` stepping on orthogonal gradients with moving-average decay `beta`.
/// @throws config_error when `inner` is none of `torch::optim::AdamW`, `Adam`, `SGD`, `RMSprop`.
[[nodiscard]] inline std::unique_ptr<torch::optim::Optimizer> orthogonalize(std::unique_ptr<torch::optim::Optimizer> inner, double beta) {
  const torch::optim::Optimizer& built = *inner;
  std::unique_ptr<torch::optim::Optimizer> out;
  auto wrap = [&]<class T>() {
    if (!out && typeid(built) == typeid(T)) out = std::make_unique<Orthogonalized<T>>(std::move(static_cast<T&>(*inner)), beta);
  };
  wrap.template operator()<torch::optim::AdamW>();
  wrap.template operator()<torch::optim::Adam>();
  wrap.template operator()<torch::optim::SGD>();
  wrap.template operator()<torch::optim::RMSprop>();
  if (!out) throw config_error("longform::orthogonalize: wraps torch::optim::AdamW, Adam, SGD or RMSprop, not another optimizer");
  return out;
}

}  // namespace longform
