// SPDX-License-Identifier: MIT
/// @file
/// `IIDSampler`: the i.i.d. reference — clips drawn uniformly over every valid clip start of the
/// whole source, the offline setting the online samplers are measured against.
///
/// A clip of T frames with stride τ spans (T−1)·τ+1 frames, so video v of n_v frames has
/// n_v − span + 1 starts (none when shorter). The starts of all videos are numbered across the
/// source, and an epoch visits each of them once, in an order drawn anew per epoch from the seed:
/// a shuffled epoch, as an offline data loader's, rather than draws with replacement. Every start
/// is as likely at every position, so each clip is a uniform draw over the corpus, and no clip repeats
/// within an epoch; over runs far shorter than an epoch the two are the same. The order is a keyed
/// permutation computed one position at a time (sampler/detail/keyed_permutation.hpp): a corpus of
/// any length costs no table, and the state is the count of clips drawn.
///
/// Frames keep their temporal order: against `SequentialSampler` with the same T and τ, only which
/// clips come and in what order differ. Needs exact frame counts (every video seekable), read once,
/// on the first call; nearly every clip is a seek, as with `RandomSampler`.
///
/// Customization: `Frames` and `Stride` (each static or `dynamic`), in any order, each optional:
/// `IIDSampler<Stride<4>>` is 16 frames 4 apart.
#pragma once

#include <algorithm>
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
#include <longform/sampler/detail/keyed_permutation.hpp>
#include <longform/sampler/params.hpp>

namespace longform {

/// Clips uniformly over all clip starts of the source, a shuffled epoch at a time.
/// Spell it `IIDSampler<...>` (below); this is the type that spelling names.
/// @tparam F `Frames<T>` or `Frames<dynamic>`
/// @tparam S `Stride<τ>` or `Stride<dynamic>`
template <FramesParam F, StrideParam S>
class BasicIIDSampler : detail::sampler_parameters<SamplerOptions, F, S> {
  using parameters = detail::sampler_parameters<SamplerOptions, F, S>;
  using parameters::options_;

 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "iid";

  /// From the `dynamic` parameters (all required), static ones (optional) and `SamplerOptions`, in
  /// any order; the options may come last as a braced list: `(Frames<dynamic>{t}, {.seed = 1})`.
  using parameters::options;
  using parameters::parameters;

  [[nodiscard]] std::int64_t frames() const noexcept { return this->template param<F>().value; }
  [[nodiscard]] std::int64_t stride() const noexcept { return this->template param<S>().value; }
  [[nodiscard]] std::int64_t span() const noexcept { return (frames() - 1) * stride() + 1; }

  /// The next clip, filled by `ctx`; `std::nullopt` after `epochs` passes over all clip starts.
  /// @throws config_error naming the video if its frame count is unknown; if no video holds a clip.
  std::optional<Clip> next(ClipContext& ctx) {
    build_index(ctx);
    const std::int64_t total = starts_.total();
    for (int attempt = 0;; ++attempt) {
      if (options_.epochs > 0 && drawn_ >= options_.epochs * total) return std::nullopt;
      const detail::KeyedPermutation order(detail::as_uint(total), detail::mix_seed(options_.seed, 0x11d, detail::as_uint(drawn_ / total)));
      const auto [video, start] = starts_.locate(static_cast<std::int64_t>(order(detail::as_uint(drawn_ % total))));
      ++drawn_;
      Clip clip;
      clip.video = video;
      for (std::int64_t t = 0; t < frames(); ++t) clip.frames.push_back(start + t * stride());
      if (ctx.fill(clip)) return clip;
      // The container promised frames the decoder could not deliver (a damaged tail): take the next.
      if (attempt > 64) throw decode_error(clip.name, "i.i.d. clip", "64 clips in a row ran past the end of their video");
    }
  }

  /// Resume point: {seed, epochs, clips drawn}.
  [[nodiscard]] SamplerState state() const { return detail::counted_state(kind, options_, drawn_); }
  /// Continues from `st`. @throws config_error if `st` is not an i.i.d.-sampler state.
  void restore(const SamplerState& st) { detail::restore_counted(st, kind, options_, drawn_); }

 private:
  void build_index(ClipContext& ctx) {
    if (starts_.built()) return;
    detail::CorpusIndex starts(ctx, [&](std::size_t v, const VideoMeta& m) {
      if (m.frames < 0) throw config_error(ctx.name(v) + ": IIDSampler needs the exact frame count (is the input seekable?)");
      return std::max<std::int64_t>(0, m.frames - span() + 1);
    });
    if (starts.total() == 0) throw config_error("IIDSampler: no video is long enough for a clip spanning " + std::to_string(span()) + " frames");
    starts_ = std::move(starts);
  }

  std::int64_t drawn_ = 0;
  detail::CorpusIndex starts_;  // every clip start of every video
};

namespace detail {
/// Checks one parameter of `IIDSampler<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct iid_sampler_parameter {
  static_assert(FramesParam<P> || StrideParam<P>,
                "longform::IIDSampler<...>: unknown parameter, the P of iid_sampler_parameter<P> in the note above. "
                "It takes Frames<T> and Stride<tau> (each static or longform::dynamic), in any order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct iid_sampler_of {
  static_assert((iid_sampler_parameter<Ps>::ok && ...));
  static_assert(count_kind<frames_kind, Ps...> <= 1, "longform::IIDSampler<...>: Frames<T> is given more than once");
  static_assert(count_kind<stride_kind, Ps...> <= 1, "longform::IIDSampler<...>: Stride<tau> is given more than once");
  using type = BasicIIDSampler<param_t<frames_kind, Frames<16>, Ps...>, param_t<stride_kind, Stride<1>, Ps...>>;
};
}  // namespace detail

/// The i.i.d. reference: `Frames<T>` (default 16) and `Stride<τ>` (default 1), in any order, each
/// at most once. Spellings that mean the same sampler name the same type.
template <class... Params>
using IIDSampler = typename detail::iid_sampler_of<Params...>::type;

static_assert(ClipSampler<IIDSampler<>>);
static_assert(ClipSampler<IIDSampler<Frames<dynamic>, Stride<dynamic>>>);
static_assert(std::same_as<IIDSampler<Stride<4>>, IIDSampler<Stride<4>, Frames<16>>>);

}  // namespace longform
