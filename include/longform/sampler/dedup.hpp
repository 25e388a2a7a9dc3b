// SPDX-License-Identifier: MIT
/// @file
/// `Dedup<Gap<G>, Batch<B>, Sampler>`: no two clips of one batch from nearby places of one video.
/// Near-duplicate clips *inside* a batch (not the correlation between batches) are what costs a
/// streaming learner: contrastive negatives that are positives, masked targets seen twice.
///
/// Rule. Clips go out in groups of B (a batch, when B is the trainer's batch size and the consumer
/// batches from the sampler's first clip, as the `Pretrainer` does, resumed runs included). Within a
/// group, two clips of the same video have first frames at least G apart. Each place of a group takes
/// the oldest held-back clip that keeps the rule, else the inner sampler's next clip that does;
/// a clip that breaks it is held back for a later group, in order. So clips come out in the inner
/// order, but for the held-back ones, which come later. (Decode workers that drop a clip a damaged
/// file promised shift the batches after it by one, for this sampler as for any.)
///
/// Hold-back: at most H clips (`DedupOptions::hold_back`, default B). A clip is dropped only when
/// the hold-back is full and a clip must be held (the oldest held one goes), or when the inner sampler
/// has ended and no held clip fits the last, partial batch (which a consumer that drops partial
/// batches drops anyway); `dropped()` counts them. A source that can never give the group a clip
/// (64·B clips in a row that break the rule: one sequential stream, a too large G) is a
/// `config_error`. One sequential stream gives consecutive clips of one video, so de-duplication
/// needs a source that mixes videos or times: `MultiStream`, `TwoTierReplay`, `RandomSampler`.
///
/// Memory: the H held-back clips (decoded when this sampler's context decodes, indices only under
/// decode workers) and the group's (video, first frame) pairs.
///
/// Resume: the state holds the counts, the inner state, the group so far and the held-back clips'
/// indices; a restored sampler decodes those again (by seeking) when it emits them.
///
/// Customization: `Gap<G>`, `Batch<B>` (static or `dynamic`) and the inner `ClipSampler`, in any
/// order: `Dedup<Gap<64>, Batch<8>, MultiStream<Streams<4>>>`.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/detail/common.hpp>
#include <longform/sampler/params.hpp>

namespace longform {

/// Options of a `Dedup`.
struct DedupOptions {
  std::int64_t hold_back = 0;  ///< clips held back at most; 0 = the batch size B
};

/// Batches without near-duplicate clips, over `Inner`. Spell it `Dedup<...>` (below); this is the type that spelling names.
/// @tparam G `Gap<G>` or `Gap<dynamic>`
/// @tparam B `Batch<B>` or `Batch<dynamic>`
/// @tparam Inner any `ClipSampler`
template <GapParam G, BatchParam B, ClipSampler Inner>
class BasicDedup : detail::sampler_parameters<DedupOptions, G, B, Inner> {
  using parameters = detail::sampler_parameters<DedupOptions, G, B, Inner>;
  using parameters::options_;

 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "dedup";

  /// From the `dynamic` counts (required), static ones, the inner sampler (required unless
  /// default-constructible) and the options, in any order: `Dedup<Gap<dynamic>, Batch<8>, Inner>(inner, Gap<dynamic>{64})`.
  using parameters::options;
  using parameters::parameters;

  [[nodiscard]] std::int64_t gap() const noexcept { return this->template param<G>().value; }
  [[nodiscard]] std::int64_t batch() const noexcept { return this->template param<B>().value; }
  /// H, the most clips held back.
  [[nodiscard]] std::int64_t hold_back() const noexcept { return options_.hold_back > 0 ? options_.hold_back : batch(); }
  [[nodiscard]] const Inner& inner() const noexcept { return this->template param<Inner>(); }
  /// Clips held back now.
  [[nodiscard]] std::size_t held() const noexcept { return held_.size(); }
  /// Inner clips dropped so far (see the file comment).
  [[nodiscard]] std::int64_t dropped() const noexcept { return dropped_; }

  /// The next clip that keeps the gap in its batch; `std::nullopt` once the inner sampler has ended
  /// and nothing held fits.
  /// @throws config_error if 64·B inner clips in a row break the gap.
  std::optional<Clip> next(ClipContext& ctx) {
    for (auto it = held_.begin(); it != held_.end();) {
      if (!fits(*it)) {
        ++it;
        continue;
      }
      Clip clip = std::move(*it);
      it = held_.erase(it);
      if (detail::refill(ctx, clip)) return emit(std::move(clip));
      ++dropped_;  // restored, and its video can no longer give it
    }
    auto& inner = this->template param<Inner>();
    for (std::int64_t conflicts = 0; !inner_done_;) {
      auto clip = inner.next(ctx);
      if (!clip) {
        inner_done_ = true;
        break;
      }
      if (fits(*clip)) return emit(std::move(*clip));
      if (++conflicts > 64 * batch()) {
        throw config_error("Dedup: " + std::to_string(conflicts) + " clips in a row have a clip of their batch closer than " + std::to_string(gap()) +
                           " frames in the same video; the inner sampler must mix videos (MultiStream, TwoTierReplay, RandomSampler)");
      }
      if (static_cast<std::int64_t>(held_.size()) >= hold_back()) {
        held_.pop_front();
        ++dropped_;
      }
      held_.push_back(std::move(*clip));
    }
    dropped_ += static_cast<std::int64_t>(held_.size());  // they fit no more batch: only a partial last one is left
    held_.clear();
    return std::nullopt;
  }

  /// Resume point: {emitted, dropped, inner done, G, B, H, inner (length + values), the group so far
  /// as a count and (video, first frame) pairs, the held-back clips as a count and (video, T, frame indices…)}.
  [[nodiscard]] SamplerState state() const {
    SamplerState st{kind, {emitted_, dropped_, inner_done_ ? 1 : 0, gap(), batch(), hold_back()}};
    detail::append_nested(st.values, inner().state());
    st.values.push_back(static_cast<std::int64_t>(group_.size()));
    for (const auto& [video, first] : group_) {
      st.values.push_back(static_cast<std::int64_t>(video));
      st.values.push_back(first);
    }
    st.values.push_back(static_cast<std::int64_t>(held_.size()));
    for (const auto& c : held_) detail::append_clip(st.values, c.video, c.frames);
    return st;
  }
  /// Continues from `st`. @throws config_error if it is not the state of a `Dedup` with this G, B and H.
  void restore(const SamplerState& st) {
    detail::state_reader in(st, kind, 6);
    emitted_ = in.take();
    dropped_ = in.take();
    inner_done_ = in.take() != 0;
    const std::int64_t g = in.take(), b = in.take(), h = in.take();
    if (g != gap() || b != batch() || h != hold_back()) {
      throw config_error("restore: state of a Dedup with G, B, H = " + std::to_string(g) + ", " + std::to_string(b) + ", " + std::to_string(h) +
                         " given to one with " + std::to_string(gap()) + ", " + std::to_string(batch()) + ", " + std::to_string(hold_back()));
    }
    auto& inner = this->template param<Inner>();
    inner.restore(in.nested(inner.state().kind));
    group_.clear();
    for (auto n = in.take(); n > 0; --n) {
      const auto video = static_cast<std::size_t>(in.take());
      group_.emplace_back(video, in.take());
    }
    held_.clear();
    for (auto n = in.take(); n > 0; --n) held_.push_back(in.clip());
  }

 private:
  static std::int64_t first_frame(const Clip& clip) { return *std::min_element(clip.frames.begin(), clip.frames.end()); }

  // Whether `clip` keeps the gap to every clip of the batch so far.
  [[nodiscard]] bool fits(const Clip& clip) const {
    const std::int64_t first = first_frame(clip);
    return std::none_of(group_.begin(), group_.end(), [&](const auto& member) {
      return member.first == clip.video && (member.second > first ? member.second - first : first - member.second) < gap();
    });
  }

  Clip emit(Clip clip) {
    group_.emplace_back(clip.video, first_frame(clip));
    if (++emitted_ % batch() == 0) group_.clear();
    return clip;
  }

  std::int64_t emitted_ = 0;
  std::int64_t dropped_ = 0;
  bool inner_done_ = false;
  std::vector<std::pair<std::size_t, std::int64_t>> group_;  // (video, first frame) of the batch's clips so far
  std::deque<Clip> held_;                                    // held back, oldest first
};

namespace detail {
/// Checks one parameter of `Dedup<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct dedup_parameter {
  static_assert(GapParam<P> || BatchParam<P> || has_sampler_tag<P>,
                "longform::Dedup<...>: unknown parameter, the P of dedup_parameter<P> in the note above. It takes Gap<G>, Batch<B> "
                "(each static or longform::dynamic) and an inner sampler, in any order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct dedup_of {
  static_assert((dedup_parameter<Ps>::ok && ...));
  static_assert(count_kind<gap_kind, Ps...> == 1, "longform::Dedup<...>: give the gap exactly once, as Gap<G> or Gap<dynamic>");
  static_assert(count_kind<batch_kind, Ps...> == 1, "longform::Dedup<...>: give the batch size exactly once, as Batch<B> or Batch<dynamic>");
  static_assert(count_kind<inner_sampler_kind, Ps...> == 1,
                "longform::Dedup<...>: give the inner sampler exactly once; it must mix videos (MultiStream, TwoTierReplay, RandomSampler)");
  using type = BasicDedup<param_t<gap_kind, Gap<1>, Ps...>, param_t<batch_kind, Batch<1>, Ps...>, param_t<inner_sampler_kind, void, Ps...>>;
};
}  // namespace detail

/// Batches whose clips of one video start at least G frames apart: `Gap<G>`, `Batch<B>` and the
/// inner sampler, all required, in any order. Spellings that mean the same sampler name the same type.
template <class... Params>
using Dedup = typename detail::dedup_of<Params...>::type;

}  // namespace longform
