// SPDX-License-Identifier: MIT
/// @file
/// `RandomSampler`: the paper's random clips. Every video is cut into segments of
/// `SegmentSeconds` (the paper: 10 s of AVA); each clip picks a segment uniformly at random over the
/// whole source, a uniformly random start inside it, takes T frames with stride τ, and shuffles
/// their order (policy `ShuffleFrames`; `KeepOrder` keeps temporal order).
///
/// Segment s of video v covers frames `[s·L, min((s+1)·L, n_v))`, L = round(seconds · fps_v); a
/// last, shorter segment counts only if the clip span (T−1)·τ+1 fits in it. One epoch is as many
/// clips as there are segments (drawn with replacement). Needs exact frame counts, so every video
/// must be seekable; the counts are read once, on the first call.
///
/// Customization: `SegmentSeconds`, `Frames`, `Stride` (static or `dynamic`) and the frame-order
/// policy, in any order, each optional: `RandomSampler<Stride<4>>` is 16 frames 4 apart from 10-s
/// segments, shuffled.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/sampler/detail/common.hpp>
#include <longform/sampler/detail/corpus_index.hpp>
#include <longform/sampler/params.hpp>

namespace longform {

/// Random clips: random segment, random start, T frames with stride τ, optionally shuffled.
/// Spell it `RandomSampler<...>` (below); this is the type that spelling names.
/// @tparam Seg `SegmentSeconds<s>` or `SegmentSeconds<dynamic>`
/// @tparam F `Frames<T>` or `Frames<dynamic>`
/// @tparam S `Stride<τ>` or `Stride<dynamic>`
/// @tparam Order `ShuffleFrames` (the paper), `KeepOrder`, or `Shuffle<dynamic>{bool}`
template <SegmentParam Seg, FramesParam F, StrideParam S, FrameOrderPolicy Order>
class BasicRandomSampler : detail::sampler_parameters<SamplerOptions, Seg, F, S, Order> {
  using parameters = detail::sampler_parameters<SamplerOptions, Seg, F, S, Order>;
  using parameters::options_;

 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "random";

  /// From the `dynamic` parameters (all required), static ones (optional) and `SamplerOptions`, in
  /// any order; the options may come last as a braced list: `(Frames<dynamic>{t}, {.seed = 1})`.
  using parameters::options;
  using parameters::parameters;

  [[nodiscard]] double segment_seconds() const noexcept { return this->template param<Seg>().value; }
  [[nodiscard]] std::int64_t frames() const noexcept { return this->template param<F>().value; }
  [[nodiscard]] std::int64_t stride() const noexcept { return this->template param<S>().value; }
  [[nodiscard]] bool shuffles() const noexcept { return this->template param<Order>().enabled(); }
  [[nodiscard]] std::int64_t span() const noexcept { return (frames() - 1) * stride() + 1; }

  /// Segment length in frames for a video at `fps`.
  [[nodiscard]] std::int64_t segment_frames(double fps) const {
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(segment_seconds() * fps)));
  }

  /// The next clip, filled by `ctx`; `std::nullopt` after `epochs × segments` clips.
  /// @throws config_error naming the video if its frame count or rate is unknown, or a segment is
  ///   shorter than the clip span; if no segment can hold a clip at all.
  std::optional<Clip> next(ClipContext& ctx) {
    build_index(ctx);
    const auto total = static_cast<std::uint64_t>(segments_.total());
    for (int attempt = 0;; ++attempt) {
      if (options_.epochs > 0 && drawn_ >= options_.epochs * static_cast<std::int64_t>(total)) return std::nullopt;
      SplitMix64 g(detail::mix_seed(options_.seed, 0xc11b, detail::as_uint(drawn_)));
      ++drawn_;
      const auto [video, segment] = segments_.locate(static_cast<std::int64_t>(detail::uniform_below(g, total)));
      const VideoMeta m = ctx.meta(video);
      const std::int64_t length = segment_frames(m.fps);
      const std::int64_t begin = segment * length, end = std::min(begin + length, m.frames);
      const std::int64_t start = begin + static_cast<std::int64_t>(detail::uniform_below(g, detail::as_uint(end - begin - span() + 1)));
      Clip clip;
      clip.video = video;
      for (std::int64_t t = 0; t < frames(); ++t) clip.frames.push_back(start + t * stride());
      if (shuffles()) detail::shuffle(clip.frames, g);
      if (ctx.fill(clip)) return clip;
      // The container promised frames the decoder could not deliver (a damaged tail): draw again.
      if (attempt > 64) throw decode_error(clip.name, "random clip", "64 clips in a row ran past the end of their video");
    }
  }

  /// Resume point: {seed, epochs, clips drawn}.
  [[nodiscard]] SamplerState state() const { return detail::counted_state(kind, options_, drawn_); }
  /// Continues from `st`. @throws config_error if `st` is not a random-sampler state.
  void restore(const SamplerState& st) { detail::restore_counted(st, kind, options_, drawn_); }

 private:
  void build_index(ClipContext& ctx) {
    if (segments_.built()) return;
    detail::CorpusIndex segments(ctx, [&](std::size_t v, const VideoMeta& m) {
      if (m.frames < 0 || !(m.fps > 0)) {
        throw config_error(ctx.name(v) + ": RandomSampler needs the exact frame count and rate (is the input seekable?)");
      }
      const std::int64_t length = segment_frames(m.fps);
      if (length < span()) {
        throw config_error(ctx.name(v) + ": a " + std::to_string(segment_seconds()) + " s segment has " + std::to_string(length) +
                           " frames, fewer than the clip span of " + std::to_string(span()));
      }
      return m.frames / length + (m.frames % length >= span() ? 1 : 0);
    });
    if (segments.total() == 0) throw config_error("RandomSampler: no video is long enough for a clip spanning " + std::to_string(span()) + " frames");
    segments_ = std::move(segments);
  }

  std::int64_t drawn_ = 0;
  detail::CorpusIndex segments_;  // every segment of every video
};

namespace detail {
/// Checks one parameter of `RandomSampler<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct random_sampler_parameter {
  static_assert(SegmentParam<P> || FramesParam<P> || StrideParam<P> || FrameOrderPolicy<P>,
                "longform::RandomSampler<...>: unknown parameter, the P of random_sampler_parameter<P> in the note above. "
                "It takes SegmentSeconds<s>, Frames<T>, Stride<tau> (each static or longform::dynamic) and a frame order "
                "(ShuffleFrames, KeepOrder, Shuffle<dynamic>), in any order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct random_sampler_of {
  static_assert((random_sampler_parameter<Ps>::ok && ...));
  static_assert(count_kind<segment_kind, Ps...> <= 1, "longform::RandomSampler<...>: SegmentSeconds<s> is given more than once");
  static_assert(count_kind<frames_kind, Ps...> <= 1, "longform::RandomSampler<...>: Frames<T> is given more than once");
  static_assert(count_kind<stride_kind, Ps...> <= 1, "longform::RandomSampler<...>: Stride<tau> is given more than once");
  static_assert(count_kind<order_kind, Ps...> <= 1,
                "longform::RandomSampler<...>: the frame order (ShuffleFrames, KeepOrder, Shuffle<...>) is given more than once");
  using type = BasicRandomSampler<param_t<segment_kind, SegmentSeconds<10>, Ps...>, param_t<frames_kind, Frames<16>, Ps...>,
                                  param_t<stride_kind, Stride<1>, Ps...>, param_t<order_kind, ShuffleFrames, Ps...>>;
};
}  // namespace detail

/// The paper's random clips: `SegmentSeconds<s>` (default 10), `Frames<T>` (default 16),
/// `Stride<τ>` (default 1) and the frame order (default `ShuffleFrames`), in any order, each at
/// most once. Spellings that mean the same sampler name the same type.
template <class... Params>
using RandomSampler = typename detail::random_sampler_of<Params...>::type;

static_assert(ClipSampler<RandomSampler<>>);
static_assert(ClipSampler<RandomSampler<SegmentSeconds<dynamic>, Frames<dynamic>, Stride<dynamic>, Shuffle<dynamic>>>);
static_assert(std::same_as<RandomSampler<KeepOrder, Frames<8>>, RandomSampler<SegmentSeconds<10>, Frames<8>, Stride<1>, KeepOrder>>);

}  // namespace longform
