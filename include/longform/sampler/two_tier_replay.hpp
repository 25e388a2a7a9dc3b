// SPDX-License-Identifier: MIT
/// @file
/// `TwoTierReplay<ShortTerm<S>, LongTerm<L>, Batch<B>, Fresh<F>, Sampler>`: replay with reuse from a
/// two-tier memory (Yang & Ren, "Memory Storyboard", 2025): each batch mixes new stream clips with
/// clips seen before, which may come back many times (unlike `ReplayBuffer`, which emits each once).
///
/// Rule, per group of B consecutive clips (a batch, when B is the trainer's batch size):
/// - places 0..F−1 are the inner sampler's next clips ("fresh"), in its order;
/// - places F..B−1 are replayed: each a uniform draw from the memory, the short-term and long-term
///   tiers together as one pool, without replacement within the batch, skipping a clip the batch
///   holds already (a later epoch of the stream gives the same clips again). While the memory holds
///   no clip left to draw (the first batch), a place takes a fresh clip instead.
/// - After the batch, its fresh clips enter the short-term tier, a FIFO of the last S; a clip
///   leaving the FIFO is offered to the long-term tier, a reservoir of L (Algorithm R: the n-th
///   clip offered replaces a uniformly chosen one of the L with probability L/n). So the tiers are
///   disjoint (the last S stream clips; each of the n older ones with the same probability,
///   min(1, L/n)), and a batch never replays its own fresh clips.
/// The sampler ends when the inner one does.
///
/// Memory: indices only, about 300 bytes per remembered clip at T = 16 (a `Clip` record with its
/// frame numbers, no pixels), S + L + B of them: about 1.2 MB for L = 4096. Decoded clips would be
/// 2.4 MB each (16 frames, 224×224, uint8), 10 GB for that reservoir.
/// The price is decoding: a replayed clip is decoded again, by an exact seek, so it costs the
/// frames from the keyframe before it on top of its own, where a stream clip costs only its own.
/// Measured with `longform clips --decode` (T = 16, τ = 4, B = 8, F = 4, 120 clips): 55 instead of
/// 50 frames decoded per clip on 720p H.264 with 48-frame GOPs, 102 instead of 48 with 250-frame
/// GOPs; clips/s 15 % and 25 % lower with 2 decode workers (a shared 2-core machine: noisy).
///
/// Resume: the state holds the seed, counts, the inner state and every remembered clip's indices
/// (tiers, this batch's fresh clips and replayed positions), so a restored sampler continues
/// identically. It grows with S + L, (T + 2) integers a clip: 600 kB for L = 4096, T = 16, in every
/// checkpoint and in every clip's `resume` of a pipeline. Random draws are seeded by (seed, clip
/// number), so no generator state is needed.
///
/// Customization: the four counts (each static or `dynamic`, F ≤ B) and the inner `ClipSampler`
/// (default `SequentialSampler<>`), in any order; `TwoTierReplayOptions` for the seed:
/// `TwoTierReplay<ShortTerm<64>, LongTerm<4096>, Batch<8>, Fresh<4>, SequentialSampler<Stride<4>>>`.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/detail/common.hpp>
#include <longform/sampler/params.hpp>
#include <longform/sampler/sequential.hpp>

namespace longform {

/// Options of a `TwoTierReplay`.
struct TwoTierReplayOptions {
  std::uint64_t seed = 0;  ///< drives the replay draws and the reservoir
};

/// A two-tier replay memory over `Inner`. Spell it `TwoTierReplay<...>` (below); this is the type that spelling names.
/// @tparam S `ShortTerm<S>` or `ShortTerm<dynamic>`
/// @tparam L `LongTerm<L>` or `LongTerm<dynamic>`
/// @tparam B `Batch<B>` or `Batch<dynamic>`
/// @tparam F `Fresh<F>` or `Fresh<dynamic>`, at most B
/// @tparam Inner any `ClipSampler`: the stream
template <ShortTermParam S, LongTermParam L, BatchParam B, FreshParam F, ClipSampler Inner>
class BasicTwoTierReplay : detail::sampler_parameters<TwoTierReplayOptions, S, L, B, F, Inner> {
  using parameters = detail::sampler_parameters<TwoTierReplayOptions, S, L, B, F, Inner>;
  using parameters::options_;

 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "two_tier_replay";

  /// From the `dynamic` counts (all required), static ones, the inner sampler (required unless
  /// default-constructible) and the options, in any order:
  /// `TwoTierReplay<ShortTerm<dynamic>, LongTerm<dynamic>, Batch<dynamic>, Fresh<dynamic>, Seq>(inner, Batch<dynamic>{8}, …)`.
  /// @throws config_error if F > B.
  using parameters::options;
  using parameters::parameters;

  [[nodiscard]] std::int64_t short_term() const noexcept { return this->template param<S>().value; }
  [[nodiscard]] std::int64_t long_term() const noexcept { return this->template param<L>().value; }
  [[nodiscard]] std::int64_t batch() const noexcept { return this->template param<B>().value; }
  [[nodiscard]] std::int64_t fresh() const noexcept { return this->template param<F>().value; }
  [[nodiscard]] const Inner& inner() const noexcept { return this->template param<Inner>(); }
  /// The short-term tier, oldest first: indices of the last (up to) S stream clips of past batches.
  [[nodiscard]] const std::deque<Clip>& short_term_memory() const noexcept { return fifo_; }
  /// The long-term tier: indices of up to L older clips, a uniform sample of them.
  [[nodiscard]] const std::vector<Clip>& long_term_memory() const noexcept { return reservoir_; }
  /// Clips offered to the long-term tier so far (those that left the short-term one).
  [[nodiscard]] std::int64_t offered() const noexcept { return offered_; }

  /// The next fresh or replayed clip (see the file comment); `std::nullopt` once the inner sampler ends.
  std::optional<Clip> next(ClipContext& ctx) {
    if (done_) return std::nullopt;
    std::optional<Clip> clip;
    if (emitted_ % batch() >= fresh()) clip = replay(ctx);
    if (!clip) {
      clip = this->template param<Inner>().next(ctx);
      if (!clip) {
        done_ = true;
        return std::nullopt;
      }
      pending_.push_back(indices_of(*clip));
    }
    if (++emitted_ % batch() == 0) commit();
    return clip;
  }

  /// Resume point: {seed, emitted, offered, done, S, L, B, F, inner (length + values), then the
  /// batch's fresh clips, its replayed positions, the short-term and the long-term tier, each as a
  /// count and its entries (clips as video, T, frame indices…)}.
  [[nodiscard]] SamplerState state() const {
    SamplerState st{kind, {detail::as_int(options_.seed), emitted_, offered_, done_ ? 1 : 0, short_term(), long_term(), batch(), fresh()}};
    detail::append_nested(st.values, inner().state());
    st.values.push_back(static_cast<std::int64_t>(pending_.size()));
    for (const auto& c : pending_) detail::append_clip(st.values, c.video, c.frames);
    st.values.push_back(static_cast<std::int64_t>(replayed_.size()));
    st.values.insert(st.values.end(), replayed_.begin(), replayed_.end());
    st.values.push_back(static_cast<std::int64_t>(fifo_.size()));
    for (const auto& c : fifo_) detail::append_clip(st.values, c.video, c.frames);
    st.values.push_back(static_cast<std::int64_t>(reservoir_.size()));
    for (const auto& c : reservoir_) detail::append_clip(st.values, c.video, c.frames);
    return st;
  }
  /// Continues from `st`. @throws config_error if it is not the state of a two-tier replay with these counts.
  void restore(const SamplerState& st) {
    detail::state_reader in(st, kind, 9);
    options_.seed = detail::as_uint(in.take());
    emitted_ = in.take();
    offered_ = in.take();
    done_ = in.take() != 0;
    const std::int64_t counts[] = {in.take(), in.take(), in.take(), in.take()};
    if (counts[0] != short_term() || counts[1] != long_term() || counts[2] != batch() || counts[3] != fresh()) {
      throw config_error("restore: state of a TwoTierReplay with S, L, B, F = " + describe(counts[0], counts[1], counts[2], counts[3]) +
                         " given to one with " + describe(short_term(), long_term(), batch(), fresh()));
    }
    auto& inner = this->template param<Inner>();
    inner.restore(in.nested(inner.state().kind));
    pending_.clear();
    for (auto n = in.take(); n > 0; --n) pending_.push_back(in.clip());
    replayed_.clear();
    for (auto n = in.take(); n > 0; --n) replayed_.push_back(in.take());
    fifo_.clear();
    for (auto n = in.take(); n > 0; --n) fifo_.push_back(in.clip());
    reservoir_.clear();
    for (auto n = in.take(); n > 0; --n) reservoir_.push_back(in.clip());
  }

 private:
  static std::string describe(std::int64_t s, std::int64_t l, std::int64_t b, std::int64_t f) {
    return std::to_string(s) + ", " + std::to_string(l) + ", " + std::to_string(b) + ", " + std::to_string(f);
  }

  // What the memory keeps of a clip: its indices, never its pixels.
  static Clip indices_of(const Clip& clip) {
    Clip c;
    c.video = clip.video;
    c.frames = clip.frames;
    return c;
  }

  // A memory clip not replayed yet in this batch, filled; none when every one has been (or fails to decode).
  std::optional<Clip> replay(ClipContext& ctx) {
    const std::size_t pool = fifo_.size() + reservoir_.size();
    SplitMix64 g(detail::mix_seed(options_.seed, 0x2e91, detail::as_uint(emitted_)));
    while (replayed_.size() < pool) {
      // The r-th position not replayed yet: a uniform draw among them, exactly.
      auto r = static_cast<std::int64_t>(detail::uniform_below(g, pool - replayed_.size()));
      for (const auto taken : replayed_) r += taken <= r ? 1 : 0;
      const bool repeat = in_batch(remembered(r));  // the same clip from another epoch of the stream
      replayed_.insert(std::upper_bound(replayed_.begin(), replayed_.end(), r), r);
      if (repeat) continue;
      Clip clip = indices_of(remembered(r));
      if (ctx.fill(clip)) return clip;  // else the video has become unreadable (skipped): draw another
    }
    return std::nullopt;
  }

  [[nodiscard]] const Clip& remembered(std::int64_t position) const {
    const auto at = static_cast<std::size_t>(position);
    return at < fifo_.size() ? fifo_[at] : reservoir_[at - fifo_.size()];
  }

  // Whether this batch has a clip of `clip`'s video and frames already.
  [[nodiscard]] bool in_batch(const Clip& clip) const {
    const auto same = [&](const Clip& c) { return c.video == clip.video && c.frames == clip.frames; };
    return std::any_of(pending_.begin(), pending_.end(), same) ||
           std::any_of(replayed_.begin(), replayed_.end(), [&](std::int64_t p) { return same(remembered(p)); });
  }

  // The batch is complete: its fresh clips enter the FIFO, and those pushed out the reservoir.
  void commit() {
    for (auto& c : pending_) {
      fifo_.push_back(std::move(c));
      if (static_cast<std::int64_t>(fifo_.size()) > short_term()) {
        offer(std::move(fifo_.front()));
        fifo_.pop_front();
      }
    }
    pending_.clear();
    replayed_.clear();
  }

  // Algorithm R: after n offers every offered clip is in the reservoir with probability min(1, L/n).
  void offer(Clip clip) {
    const std::int64_t n = offered_++;
    if (n < long_term()) {
      reservoir_.push_back(std::move(clip));
      return;
    }
    SplitMix64 g(detail::mix_seed(options_.seed, 0x5e5e, detail::as_uint(n)));
    const auto j = detail::uniform_below(g, detail::as_uint(n + 1));
    if (j < detail::as_uint(long_term())) reservoir_[static_cast<std::size_t>(j)] = std::move(clip);
  }

  [[nodiscard]] bool check_fresh() const {
    if (fresh() > batch()) {
      throw config_error("TwoTierReplay: Fresh (" + std::to_string(fresh()) + ") exceeds the batch of " + std::to_string(batch()) + " clips");
    }
    return true;
  }

  bool fresh_checked_ = check_fresh();  // a default member initializer runs in every constructor, the inherited ones too
  std::int64_t emitted_ = 0;            // clips returned
  std::int64_t offered_ = 0;            // clips offered to the reservoir
  bool done_ = false;                   // the inner sampler has ended
  std::vector<Clip> pending_;           // this batch's fresh clips, entering the memory after it
  std::vector<std::int64_t> replayed_;  // memory positions replayed in this batch, sorted
  std::deque<Clip> fifo_;               // short-term tier, oldest first
  std::vector<Clip> reservoir_;         // long-term tier
};

namespace detail {
/// Checks one parameter of `TwoTierReplay<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct two_tier_replay_parameter {
  static_assert(ShortTermParam<P> || LongTermParam<P> || BatchParam<P> || FreshParam<P> || has_sampler_tag<P>,
                "longform::TwoTierReplay<...>: unknown parameter, the P of two_tier_replay_parameter<P> in the note above. It takes "
                "ShortTerm<S>, LongTerm<L>, Batch<B>, Fresh<F> (each static or longform::dynamic) and an inner sampler, in any order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct two_tier_replay_of {
  static_assert((two_tier_replay_parameter<Ps>::ok && ...));
  static_assert(count_kind<short_term_kind, Ps...> == 1 && count_kind<long_term_kind, Ps...> == 1,
                "longform::TwoTierReplay<...>: give each tier's size exactly once, as ShortTerm<S> and LongTerm<L> (or their dynamic twins)");
  static_assert(
      count_kind<batch_kind, Ps...> == 1 && count_kind<fresh_kind, Ps...> == 1,
      "longform::TwoTierReplay<...>: give the batch size and its stream clips exactly once, as Batch<B> and Fresh<F> (or their dynamic twins)");
  static_assert(count_kind<inner_sampler_kind, Ps...> <= 1, "longform::TwoTierReplay<...>: more than one inner sampler is given");
  using type = BasicTwoTierReplay<param_t<short_term_kind, ShortTerm<1>, Ps...>, param_t<long_term_kind, LongTerm<1>, Ps...>,
                                  param_t<batch_kind, Batch<1>, Ps...>, param_t<fresh_kind, Fresh<1>, Ps...>,
                                  param_t<inner_sampler_kind, SequentialSampler<>, Ps...>>;
};
}  // namespace detail

/// Replay with reuse from a FIFO of recent clips and a reservoir of older ones: `ShortTerm<S>`,
/// `LongTerm<L>`, `Batch<B>`, `Fresh<F>` (all required) and the inner sampler (default
/// `SequentialSampler<>`), in any order. Spellings that mean the same sampler name the same type.
template <class... Params>
using TwoTierReplay = typename detail::two_tier_replay_of<Params...>::type;

static_assert(ClipSampler<TwoTierReplay<ShortTerm<4>, LongTerm<16>, Batch<4>, Fresh<2>>>);
static_assert(std::same_as<TwoTierReplay<Fresh<2>, Batch<4>, LongTerm<16>, ShortTerm<4>>,
                           TwoTierReplay<ShortTerm<4>, LongTerm<16>, Batch<4>, Fresh<2>, SequentialSampler<>>>);

}  // namespace longform
