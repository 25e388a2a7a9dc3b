// SPDX-License-Identifier: MIT
/// @file
/// `MultiStream<B, Sampler>`: B sequential streams over B different videos, advancing together —
/// the online setting at batch size B without random access.
///
/// Stream b is `inner.shard(b, B)`: it visits its own share of the videos (disjoint permutation
/// positions), so the B clips of one round always come from B different videos. Clips come out
/// round-robin — stream 0, 1, …, B−1, 0, 1, … — so consecutive groups of B clips (`batch(B)`) hold
/// one clip per stream. A stream that runs out is skipped; the sampler ends when all have.
/// The context keeps B+1 readers open, so every stream decodes forward only.
///
/// Customization: B (static, or `dynamic` with the count given at construction) and the inner
/// `ShardableSampler` (normally `SequentialSampler`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/detail/common.hpp>
#include <longform/sampler/params.hpp>

namespace longform {

/// B interleaved shards of `Inner`, one clip from each in turn.
/// @tparam B number of streams, or `dynamic`
/// @tparam Inner a `ShardableSampler`
template <std::int64_t B, ShardableSampler Inner>
class MultiStream {
  static_assert(B > 0 || B == dynamic, "longform::MultiStream<B, Sampler>: B must be positive, or longform::dynamic");

 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "multistream";

  /// B static: B shards of `inner`.
  explicit MultiStream(Inner inner)
    requires(B != dynamic)
      : MultiStream(B, std::move(inner), 0) {}
  /// B chosen at run time. @throws config_error if `streams` is not positive.
  MultiStream(std::int64_t streams, Inner inner)
    requires(B == dynamic)
      : MultiStream(streams, std::move(inner), 0) {}

  [[nodiscard]] std::size_t streams() const noexcept { return streams_.size(); }
  [[nodiscard]] const Inner& stream(std::size_t b) const { return streams_.at(b); }

  /// The next stream's next clip (see the file comment); `std::nullopt` when every stream is done.
  std::optional<Clip> next(ClipContext& ctx) {
    ctx.reserve_readers(streams_.size() + 1);
    for (std::size_t tries = 0; tries < streams_.size(); ++tries) {
      const std::size_t b = cursor_;
      cursor_ = (cursor_ + 1) % streams_.size();
      if (done_[b]) continue;
      if (auto clip = streams_[b].next(ctx)) return clip;
      done_[b] = true;
    }
    return std::nullopt;
  }

  /// Resume point: {B, cursor, done flags, then each stream's state as (kind-less) length + values}.
  [[nodiscard]] SamplerState state() const {
    SamplerState st{kind, {static_cast<std::int64_t>(streams_.size()), static_cast<std::int64_t>(cursor_)}};
    for (bool d : done_) st.values.push_back(d ? 1 : 0);
    for (const auto& s : streams_) {
      const SamplerState inner = s.state();
      st.values.push_back(static_cast<std::int64_t>(inner.values.size()));
      st.values.insert(st.values.end(), inner.values.begin(), inner.values.end());
    }
    return st;
  }
  /// Continues from `st`. @throws config_error if it is not a state of a MultiStream of this size.
  void restore(const SamplerState& st) {
    detail::expect_state(st, kind, 2);
    const auto n = static_cast<std::size_t>(st.values[0]);
    if (n != streams_.size()) {
      throw config_error("restore: state of a " + std::to_string(n) + "-stream MultiStream given to one with " + std::to_string(streams_.size()));
    }
    std::size_t at = 2;
    auto take = [&]() -> std::int64_t {
      if (at >= st.values.size()) throw config_error("restore: 'multistream' state is truncated");
      return st.values[at++];
    };
    cursor_ = static_cast<std::size_t>(st.values[1]) % n;
    for (std::size_t b = 0; b < n; ++b) done_[b] = take() != 0;
    for (std::size_t b = 0; b < n; ++b) {
      SamplerState inner{Inner::kind, {}};
      const auto len = take();
      for (std::int64_t i = 0; i < len; ++i) inner.values.push_back(take());
      streams_[b].restore(inner);
    }
  }

 private:
  MultiStream(std::int64_t streams, Inner inner, int) {
    if (streams <= 0) throw config_error("MultiStream: number of streams must be positive (was " + std::to_string(streams) + ")");
    for (std::int64_t b = 0; b < streams; ++b) streams_.push_back(inner.shard(static_cast<std::size_t>(b), static_cast<std::size_t>(streams)));
    done_.assign(streams_.size(), false);
  }

  std::vector<Inner> streams_;
  std::vector<bool> done_;
  std::size_t cursor_ = 0;
};

}  // namespace longform
