// SPDX-License-Identifier: MIT
/// @file
/// `AnyObjective`: one `SslObjective` type for any objective chosen at run time, so a program that
/// picks its method from a name instantiates its `Pretrainer` once. One virtual call per step.
///
///     longform::AnyObjective o = mae ? longform::AnyObjective(longform::VideoMAE<longform::ViTS>())
///                                    : longform::AnyObjective(longform::MoCo<longform::X3DM>());
///     longform::Pretrainer<longform::AnySampler, longform::AnyObjective, longform::AnySource> t(...);
///
/// The protocol is forwarded (`loss`, `parameters`, `after_step`, `module`), and so are the optional
/// abilities `Pretrainer` looks for (objective/concepts.hpp): `generator()`, whose state checkpoints
/// keep, and `set_key_gather(f)`, which shares samples across data-parallel ranks. An objective
/// without them behaves as it would unwrapped: `generator()` is then a generator of the
/// `AnyObjective`'s own that nothing draws from, and `set_key_gather` does nothing. As with the
/// objectives (module holders), copies share the wrapped objective.
///
/// Customization: none; wrap any `SslObjective`.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <longform/core/clip.hpp>
#include <longform/objective/concepts.hpp>

namespace longform {

/// A type-erased `SslObjective` (see the file comment).
class AnyObjective {
 public:
  /// Opts in to `longform::SslObjective`.
  using objective_concept = objective_tag;
  /// What `set_key_gather` takes: `f(t)` is every rank's `t` concatenated along dim 0.
  using KeyGather = std::function<at::Tensor(const at::Tensor&)>;

  /// Wraps `objective`.
  template <class O>
    requires(!std::same_as<std::remove_cvref_t<O>, AnyObjective>) && SslObjective<O>
  explicit AnyObjective(O objective) : impl_(std::make_shared<model<O>>(std::move(objective))) {}

  /// The wrapped objective's loss of one batch.
  at::Tensor loss(const ClipBatch& batch) { return impl_->loss(batch); }
  /// The wrapped objective's trainable parameters.
  std::vector<at::Tensor> parameters() { return impl_->parameters(); }
  /// The wrapped objective's updates after an optimizer step.
  void after_step() { impl_->after_step(); }
  /// The wrapped objective's root module (to checkpoint, move, switch to training).
  torch::nn::Module& module() { return impl_->module(); }
  /// The wrapped objective's generator, or else the `AnyObjective`'s own (file comment).
  at::Generator generator() { return impl_->generator(); }
  /// Passes `gather` to the wrapped objective, if it shares samples across ranks.
  void set_key_gather(KeyGather gather) { impl_->set_key_gather(std::move(gather)); }

 private:
  struct base {
    virtual ~base() = default;
    virtual at::Tensor loss(const ClipBatch&) = 0;
    virtual std::vector<at::Tensor> parameters() = 0;
    virtual void after_step() = 0;
    virtual torch::nn::Module& module() = 0;
    virtual at::Generator generator() = 0;
    virtual void set_key_gather(KeyGather) = 0;
  };
  template <class O>
  struct model final : base {
    static constexpr bool has_generator = ObjectiveWithGenerator<O>;
    static constexpr bool has_key_gather = ObjectiveWithKeyGather<O>;

    explicit model(O o) : objective(std::move(o)) {}
    at::Tensor loss(const ClipBatch& batch) override { return objective.loss(batch); }
    std::vector<at::Tensor> parameters() override { return objective.parameters(); }
    void after_step() override { objective.after_step(); }
    torch::nn::Module& module() override { return objective.module(); }
    at::Generator generator() override {
      if constexpr (has_generator)
        return objective.generator();
      else
        return own_generator;
    }
    void set_key_gather([[maybe_unused]] KeyGather gather) override {
      if constexpr (has_key_gather) objective.set_key_gather(std::move(gather));
    }
    O objective;
    at::Generator own_generator = at::detail::createCPUGenerator();
  };
  std::shared_ptr<base> impl_;
};

static_assert(SslObjective<AnyObjective>);

}  // namespace longform
