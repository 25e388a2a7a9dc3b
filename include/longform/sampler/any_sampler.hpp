// SPDX-License-Identifier: MIT
/// @file
/// `AnySampler`: one `ClipSampler` type for any sampler chosen at run time, so a program that picks
/// its sampler from a name instantiates its pipeline or `Pretrainer` once. One virtual call per clip
/// is nothing next to decoding it.
///
///     longform::AnySampler s = random ? longform::AnySampler(longform::RandomSampler<>({.seed = 1}))
///                                     : longform::AnySampler(longform::SequentialSampler<>({.seed = 1}));
///     for (const longform::Clip& c : videos | longform::views::sample(s, {.workers = 2})) ...
///
/// What the wrapped sampler does survives: its clips, `state()` and `restore()` (the states are the
/// wrapped sampler's own, so a checkpoint of one resumes the other), copies that fork the stream
/// (copies are deep, as copies of samplers are), and `shard(b, n)` when it is a `ShardableSampler`.
///
/// Customization: none; wrap any `ClipSampler`.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>

namespace longform {

/// A type-erased `ClipSampler` (see the file comment).
class AnySampler {
 public:
  /// Opts in to `longform::ClipSampler`.
  using sampler_concept = sampler_tag;

  /// Wraps `sampler`.
  template <class S>
    requires(!std::same_as<std::remove_cvref_t<S>, AnySampler>) && ClipSampler<S>
  explicit AnySampler(S sampler) : impl_(std::make_unique<model<S>>(std::move(sampler))) {}

  /// A deep copy: the copy continues from the same point on its own.
  AnySampler(const AnySampler& other) : impl_(other.impl_->clone()) {}
  AnySampler& operator=(const AnySampler& other) {
    if (this != &other) impl_ = other.impl_->clone();
    return *this;
  }
  AnySampler(AnySampler&&) noexcept = default;
  AnySampler& operator=(AnySampler&&) noexcept = default;
  ~AnySampler() = default;

  /// The wrapped sampler's next clip.
  std::optional<Clip> next(ClipContext& ctx) { return impl_->next(ctx); }
  /// The wrapped sampler's state.
  [[nodiscard]] SamplerState state() const { return impl_->state(); }
  /// Restores the wrapped sampler.
  void restore(const SamplerState& state) { impl_->restore(state); }
  /// Whether the wrapped sampler is a `ShardableSampler`.
  [[nodiscard]] bool shardable() const noexcept { return impl_->shardable(); }
  /// The wrapped sampler's `shard(b, n)`, wrapped. @throws config_error when it has none (`shardable()`).
  [[nodiscard]] AnySampler shard(std::size_t b, std::size_t n) const { return impl_->shard(b, n); }

 private:
  struct base {
    virtual ~base() = default;
    [[nodiscard]] virtual std::unique_ptr<base> clone() const = 0;
    virtual std::optional<Clip> next(ClipContext&) = 0;
    [[nodiscard]] virtual SamplerState state() const = 0;
    virtual void restore(const SamplerState&) = 0;
    [[nodiscard]] virtual bool shardable() const noexcept = 0;
    [[nodiscard]] virtual AnySampler shard(std::size_t, std::size_t) const = 0;
  };
  template <class S>
  struct model final : base {
    explicit model(S s) : sampler(std::move(s)) {}
    [[nodiscard]] std::unique_ptr<base> clone() const override { return std::make_unique<model>(sampler); }
    std::optional<Clip> next(ClipContext& ctx) override { return sampler.next(ctx); }
    [[nodiscard]] SamplerState state() const override { return sampler.state(); }
    void restore(const SamplerState& st) override { sampler.restore(st); }
    [[nodiscard]] bool shardable() const noexcept override { return ShardableSampler<S>; }
    [[nodiscard]] AnySampler shard(std::size_t b, std::size_t n) const override {
      if constexpr (ShardableSampler<S>)
        return AnySampler(sampler.shard(b, n));
      else
        throw config_error("AnySampler::shard: the wrapped sampler (state kind '" + sampler.state().kind + "') cannot be sharded");
    }
    S sampler;
  };
  std::unique_ptr<base> impl_;
};

static_assert(ShardableSampler<AnySampler>);

}  // namespace longform
