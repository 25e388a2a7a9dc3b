// SPDX-License-Identifier: MIT
/// @file
/// `views::sample(sampler)`: the start of a clip pipeline. `source | views::sample(sampler)` is a
/// lazy, single-pass range of `Clip`s: each step asks the sampler for its next clip, decoded by a
/// `ClipContext` that the view owns. Nothing is decoded before the first element is read.
///
/// Each clip carries `resume`, the sampler's state right after it: restoring it
/// (`SampleOptions::resume`) continues the stream exactly after that clip, even when the clip was
/// consumed far downstream of a `prefetch` that ran ahead.
///
/// With `SampleOptions::workers` W > 1, W threads decode (pipeline/detail/decode_workers.hpp): the
/// same clips, bytes and states, in the same order, whatever W, so a run checkpointed with one W
/// resumes with another onto the same batches.
#pragma once

#include <algorithm>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <range/v3/functional/bind_back.hpp>
#include <range/v3/view/view.hpp>

#include <longform/core/clip.hpp>
#include <longform/pipeline/detail/decode_workers.hpp>
#include <longform/pipeline/detail/generator.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/forward_only.hpp>

namespace longform {

/// How `views::sample` runs its sampler.
struct SampleOptions {
  ContextOptions context;               ///< decoding, open readers, telemetry
  std::optional<SamplerState> resume;   ///< restore the sampler to this state first
  bool record_state = true;             ///< set `Clip::resume` on every clip
  /// Decode threads. 1: the thread that reads the view decodes. W > 1: W workers, each with its own
  /// readers, decode chunks of consecutive clips at once (one long video too, in W segments); at
  /// most 2·W chunks of clips are in flight. Sources that are read forward only (`Stream`, `-`,
  /// `pipe:N`) always use 1.
  int workers = 1;
  /// With W > 1: the clips dealt to one worker at a time span about this many frames.
  std::int64_t chunk_frames = 1024;
};

namespace detail {

// Sources whose videos decode workers can each open and seek in: not those that say they are
// read forward only (`Stream`), nor standard input, pipes or live URLs among a list's names.
template <class Src>
bool can_decode_in_parallel(const Src& source) {
  if constexpr (!std::copy_constructible<Src> || !SeekableFrameReader<reader_t<Src>>) {
    return false;
  } else {
    if constexpr (requires { { source.forward_only() } -> std::convertible_to<bool>; }) {
      if (source.forward_only()) return false;
    }
    for (std::size_t i = 0; i < source.size(); ++i) {
      if (is_forward_only_input(source.name(i))) return false;
    }
    return true;
  }
}

}  // namespace detail

namespace views {

/// The closure `views::sample(sampler, options)`, applied to a source with `|`.
template <class Sampler>
struct sample_closure {
  Sampler sampler;
  SampleOptions options;
};

struct sample_fn {
  /// `sample(source, sampler)`: the clips of `source`.
  template <VideoSource Src, class Sampler>
  auto operator()(Src source, Sampler sampler, SampleOptions options = {}) const {
    static_assert(detail::require_sampler<Sampler>());
    if constexpr (!ClipSampler<Sampler>) {
      return detail::generator_view<Clip>();  // the static_assert above has said why; no error cascade
    } else {
    struct state {
      ClipContext ctx;
      Sampler sampler;
      bool record;
    };
    if (options.resume) sampler.restore(*options.resume);
    if (options.workers > 1 && detail::can_decode_in_parallel(source)) {
      auto w = std::make_shared<detail::decode_workers<Src, Sampler>>(source, std::move(sampler), std::move(options.context),
                                                                      options.record_state, options.workers,
                                                                      std::max<std::int64_t>(1, options.chunk_frames));
      return detail::generator_view<Clip>([w]() { return w->next(); });
    }
    auto s = std::make_shared<state>(state{ClipContext(std::move(source), options.context), std::move(sampler), options.record_state});
    return detail::generator_view<Clip>([s]() -> std::optional<Clip> {
      auto clip = s->sampler.next(s->ctx);
      if (clip && s->record) clip->resume = s->sampler.state();
      return clip;
    });
    }
  }
  /// `sample(sampler)`: a closure for `source | sample(sampler)`.
  template <class Sampler>
  auto operator()(Sampler sampler, SampleOptions options = {}) const {
    static_assert(detail::require_sampler<Sampler>());
    return sample_closure<Sampler>{std::move(sampler), std::move(options)};
  }
};

/// Clips of a source, as chosen by a sampler (see the file comment).
inline constexpr sample_fn sample{};

/// `source | views::sample(sampler)`.
template <class Src, class Sampler>
  requires VideoSource<std::remove_cvref_t<Src>>
auto operator|(Src&& source, sample_closure<Sampler> closure) {
  return sample(std::remove_cvref_t<Src>(std::forward<Src>(source)), std::move(closure.sampler), std::move(closure.options));
}

}  // namespace views
}  // namespace longform
