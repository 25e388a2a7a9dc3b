// SPDX-License-Identifier: MIT
/// @file
/// `MultiStream<Streams<B>, Sampler>`: B sequential streams over B different videos, advancing together —
/// the online setting at batch size B without random access.
///
/// Stream b is `inner.shard(b, B)`: it visits its own share of the videos (disjoint permutation
/// positions), so the B clips of one round always come from B different videos. Clips come out
/// round-robin — stream 0, 1, …, B−1, 0, 1, … — so consecutive groups of B clips (`batch(B)`) hold
/// one clip per stream. A stream that runs out is skipped; the sampler ends when all have.
/// The context keeps B+1 readers open, so every stream decodes forward only.
///
/// Customization: `Streams<B>` (static, or `Streams<dynamic>` with the count given at construction)
/// and the inner `ShardableSampler` (default `SequentialSampler<>`), in either order:
/// `MultiStream<Streams<4>, SequentialSampler<Stride<8>>>`, `MultiStream<Streams<4>>`.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/detail/common.hpp>
#include <longform/sampler/params.hpp>
#include <longform/sampler/sequential.hpp>

namespace longform {

/// B interleaved shards of `Inner`. Spell it `MultiStream<...>` (below); this is the type that spelling names.
/// @tparam B `Streams<B>` or `Streams<dynamic>`
/// @tparam Inner a `ShardableSampler`
template <StreamsParam B, ShardableSampler Inner>
class BasicMultiStream {
 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "multistream";

  /// B static and `Inner` default-built.
  BasicMultiStream()
    requires std::default_initializable<B> && std::default_initializable<Inner>
      : BasicMultiStream(B::value, Inner(), 0) {}
  /// B static: B shards of `inner`.
  explicit BasicMultiStream(Inner inner)
    requires std::default_initializable<B>
      : BasicMultiStream(B::value, std::move(inner), 0) {}
  /// B shards of `inner`, in either order: `(Streams<dynamic>{4}, inner)`, `(inner, Streams<dynamic>{4})`.
  BasicMultiStream(B streams, Inner inner) : BasicMultiStream(streams.value, std::move(inner), 0) {}
  BasicMultiStream(Inner inner, B streams) : BasicMultiStream(streams.value, std::move(inner), 0) {}
  /// B chosen at run time as a plain number. @throws config_error if `streams` is not positive.
  BasicMultiStream(std::int64_t streams, Inner inner)
    requires(!std::default_initializable<B>)
      : BasicMultiStream(B{streams}.value, std::move(inner), 0) {}

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
    for (const auto& s : streams_) detail::append_nested(st.values, s.state());
    return st;
  }
  /// Continues from `st`. @throws config_error if it is not a state of a MultiStream of this size.
  void restore(const SamplerState& st) {
    detail::state_reader in(st, kind, 2);
    const auto n = static_cast<std::size_t>(in.take());
    if (n != streams_.size()) {
      throw config_error("restore: state of a " + std::to_string(n) + "-stream MultiStream given to one with " + std::to_string(streams_.size()));
    }
    cursor_ = static_cast<std::size_t>(in.take()) % n;
    for (std::size_t b = 0; b < n; ++b) done_[b] = in.take() != 0;
    for (auto& s : streams_) s.restore(in.nested(s.state().kind));
  }

 private:
  BasicMultiStream(std::int64_t streams, Inner inner, int) {
    if (streams <= 0) throw config_error("MultiStream: number of streams must be positive (was " + std::to_string(streams) + ")");
    for (std::int64_t b = 0; b < streams; ++b) streams_.push_back(inner.shard(static_cast<std::size_t>(b), static_cast<std::size_t>(streams)));
    done_.assign(streams_.size(), false);
  }

  std::vector<Inner> streams_;
  std::vector<bool> done_;
  std::size_t cursor_ = 0;
};

namespace detail {
/// Checks one parameter of `MultiStream<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct multistream_parameter {
  static_assert(StreamsParam<P> || has_sampler_tag<P>,
                "longform::MultiStream<...>: unknown parameter, the P of multistream_parameter<P> in the note above. "
                "It takes Streams<B> (or Streams<dynamic>) and an inner sampler such as SequentialSampler<...>, in either order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct multistream_of {
  static_assert((multistream_parameter<Ps>::ok && ...));
  static_assert(count_kind<streams_kind, Ps...> == 1,
                "longform::MultiStream<...>: give the number of streams exactly once, as Streams<B> or Streams<dynamic>");
  static_assert(count_kind<inner_sampler_kind, Ps...> <= 1, "longform::MultiStream<...>: more than one inner sampler is given");
  using inner = param_t<inner_sampler_kind, SequentialSampler<>, Ps...>;
  static_assert(ShardableSampler<inner>,
                "longform::MultiStream<...>: the inner sampler must be a ShardableSampler (with shard(b, n)), as SequentialSampler is");
  using type = BasicMultiStream<param_t<streams_kind, Streams<1>, Ps...>, inner>;
};
}  // namespace detail

/// B sequential streams over different videos: `Streams<B>` (required; or `Streams<dynamic>`) and the
/// inner sampler (default `SequentialSampler<>`), in either order. Spellings that mean the same
/// sampler name the same type.
template <class... Params>
using MultiStream = typename detail::multistream_of<Params...>::type;

static_assert(ShardableSampler<SequentialSampler<>> && ClipSampler<MultiStream<Streams<2>>>);
static_assert(std::same_as<MultiStream<Streams<4>>, MultiStream<SequentialSampler<>, Streams<4>>>);

}  // namespace longform
