// SPDX-License-Identifier: MIT
/// @file
/// `SequentialSampler`: the paper's sequential clips — an online stream through whole videos.
///
/// Video order: a seeded random permutation of the source's videos per epoch. Within video v,
/// clip j holds frames `j·h + t·τ`, t = 0..T−1, for j = 0, 1, … while the clip fits in the video;
/// then the stream continues at frame 0 of the next video in the permutation. With the default
/// `Hop<>` clips lie back to back (h = T·τ: the stream covers the video once, without overlap);
/// `Hop<1>` with `Stride<1>` gives dense overlapping windows (a clip starting at every frame).
///
/// Decoding only moves forward: the sampler never asks for a frame behind the last one, so the
/// context decodes each video once, start to end, without seeking (as long as the gap between
/// clips, h − (T−1)·τ − 1, stays below `ContextOptions::seek_threshold`).
///
/// Customization: the three parameters (`Frames`, `Stride`, `Hop`), each static or `dynamic`, in
/// any order, each optional: `SequentialSampler<Stride<8>>` is 16 frames 8 apart, back to back.
#pragma once

#include <concepts>
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

/// Sequential clips of `T` frames with stride `τ`, clip starts `h` apart, videos in seeded random order.
/// Spell it `SequentialSampler<...>` (below); this is the type that spelling names.
/// @tparam F `Frames<T>` or `Frames<dynamic>`
/// @tparam S `Stride<τ>` or `Stride<dynamic>`
/// @tparam H `Hop<h>`, `Hop<>` (back to back) or `Hop<dynamic>`
template <FramesParam F, StrideParam S, HopParam H>
class BasicSequentialSampler : detail::sampler_parameters<SamplerOptions, F, S, H> {
  using parameters = detail::sampler_parameters<SamplerOptions, F, S, H>;
  using parameters::options_;

 public:
  using sampler_concept = sampler_tag;
  static constexpr const char* kind = "sequential";

  /// From the `dynamic` parameters (all required), static ones (optional) and `SamplerOptions`, in
  /// any order: `SequentialSampler<Frames<dynamic>, Stride<dynamic>>(Stride<dynamic>{4}, Frames<dynamic>{16})`;
  /// the options may come last as a braced list: `(Frames<dynamic>{t}, {.seed = 1})`.
  using parameters::options;
  using parameters::parameters;

  /// T.
  [[nodiscard]] std::int64_t frames() const noexcept { return this->template param<F>().value; }
  /// τ.
  [[nodiscard]] std::int64_t stride() const noexcept { return this->template param<S>().value; }
  /// h, resolved (T·τ for `Hop<>`).
  [[nodiscard]] std::int64_t hop() const noexcept { return this->template param<H>().resolve(frames() * stride()); }
  /// Frames from a clip's first to its last, inclusive: (T−1)·τ + 1.
  [[nodiscard]] std::int64_t span() const noexcept { return (frames() - 1) * stride() + 1; }

  /// Stream `b` of `n`: this copy visits the videos at permutation positions b, b+n, b+2n, …
  [[nodiscard]] BasicSequentialSampler shard(std::size_t b, std::size_t n) const {
    if (n == 0 || b >= n) throw config_error("SequentialSampler::shard: stream " + std::to_string(b) + " of " + std::to_string(n));
    BasicSequentialSampler s = *this;
    s.shard_ = b;
    s.shards_ = n;
    s.pos_ = b;
    s.j_ = 0;
    return s;
  }

  /// The next clip, filled by `ctx`; `std::nullopt` after `options().epochs` passes.
  /// @throws config_error if the source has fewer videos than shards, or (endless epochs) no video
  ///   is long enough for one clip.
  std::optional<Clip> next(ClipContext& ctx) {
    const std::size_t n = ctx.size();
    if (n < shards_) {
      throw config_error("SequentialSampler: " + std::to_string(shards_) + " streams need at least as many videos; source has " + std::to_string(n));
    }
    std::size_t fruitless = 0;  // videos visited in this call that gave no clip
    for (;;) {
      if (exhausted_) return std::nullopt;
      if (pos_ >= n) {  // epoch done
        if (options_.epochs > 0 && epoch_ + 1 >= options_.epochs) {
          exhausted_ = true;
          return std::nullopt;
        }
        ++epoch_;
        pos_ = shard_;
        j_ = 0;
      }
      if (fruitless > n) {
        throw config_error("SequentialSampler: no video is long enough for a clip spanning " + std::to_string(span()) + " frames");
      }
      const std::size_t video = order(n)[pos_];
      Clip clip;
      clip.video = video;
      clip.frames.resize(static_cast<std::size_t>(frames()));
      const std::int64_t first = j_ * hop();
      for (std::int64_t t = 0; t < frames(); ++t) clip.frames[static_cast<std::size_t>(t)] = first + t * stride();
      const std::int64_t next_first = first + hop();  // overlapping clips: keep the shared frames
      if (ctx.fill(clip, next_first <= clip.frames.back() ? next_first : -1)) {
        ++j_;
        return clip;
      }
      if (j_ == 0) ++fruitless;
      pos_ += shards_;  // the video ended: on to the next one
      j_ = 0;
    }
  }

  /// Resume point: {seed, epochs, shard, shards, epoch, position, clip j, exhausted}.
  [[nodiscard]] SamplerState state() const {
    return {kind,
            {detail::as_int(options_.seed), options_.epochs, static_cast<std::int64_t>(shard_), static_cast<std::int64_t>(shards_), epoch_,
             static_cast<std::int64_t>(pos_), j_, exhausted_ ? 1 : 0}};
  }
  /// Continues from `st` (seed and epochs included). @throws config_error if `st` is not a sequential state.
  void restore(const SamplerState& st) {
    detail::expect_state(st, kind, 8);
    options_.seed = detail::as_uint(st.values[0]);
    options_.epochs = st.values[1];
    shard_ = static_cast<std::size_t>(st.values[2]);
    shards_ = static_cast<std::size_t>(st.values[3]);
    epoch_ = st.values[4];
    pos_ = static_cast<std::size_t>(st.values[5]);
    j_ = st.values[6];
    exhausted_ = st.values[7] != 0;
    order_.clear();
  }

 private:
  const std::vector<std::size_t>& order(std::size_t n) {
    if (order_.size() != n || order_epoch_ != epoch_) {
      order_ = detail::epoch_order(options_.seed, epoch_, n);
      order_epoch_ = epoch_;
    }
    return order_;
  }

  std::size_t shard_ = 0, shards_ = 1;
  std::int64_t epoch_ = 0;
  std::size_t pos_ = 0;  // position in the epoch's permutation
  std::int64_t j_ = 0;   // next clip of the current video
  bool exhausted_ = false;
  std::vector<std::size_t> order_;  // cache of epoch_order(seed, order_epoch_, n)
  std::int64_t order_epoch_ = -1;
};

namespace detail {
/// Checks one parameter of `SequentialSampler<...>`; the compiler's note names `P` when it is unknown.
template <class P>
struct sequential_sampler_parameter {
  static_assert(FramesParam<P> || StrideParam<P> || HopParam<P>,
                "longform::SequentialSampler<...>: unknown parameter, the P of sequential_sampler_parameter<P> in the "
                "note above. It takes Frames<T>, Stride<tau> and Hop<h> (each static or longform::dynamic), in any order");
  static constexpr bool ok = true;
};
template <class... Ps>
struct sequential_sampler_of {
  static_assert((sequential_sampler_parameter<Ps>::ok && ...));
  static_assert(count_kind<frames_kind, Ps...> <= 1, "longform::SequentialSampler<...>: Frames<T> is given more than once");
  static_assert(count_kind<stride_kind, Ps...> <= 1, "longform::SequentialSampler<...>: Stride<tau> is given more than once");
  static_assert(count_kind<hop_kind, Ps...> <= 1, "longform::SequentialSampler<...>: Hop<h> is given more than once");
  using type =
      BasicSequentialSampler<param_t<frames_kind, Frames<16>, Ps...>, param_t<stride_kind, Stride<1>, Ps...>, param_t<hop_kind, Hop<>, Ps...>>;
};
}  // namespace detail

/// The paper's sequential clips: `Frames<T>` (default 16), `Stride<τ>` (default 1) and `Hop<h>`
/// (default `Hop<>`, back to back), in any order, each at most once. Spellings that mean the same
/// sampler name the same type: `SequentialSampler<Stride<8>>` is `SequentialSampler<Frames<16>, Stride<8>, Hop<>>`.
template <class... Params>
using SequentialSampler = typename detail::sequential_sampler_of<Params...>::type;

static_assert(ShardableSampler<SequentialSampler<>>);
static_assert(ShardableSampler<SequentialSampler<Frames<dynamic>, Stride<dynamic>, Hop<dynamic>>>);
static_assert(std::same_as<SequentialSampler<Stride<8>>, SequentialSampler<Hop<>, Stride<8>, Frames<16>>>);

}  // namespace longform
