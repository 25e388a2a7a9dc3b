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
///
/// `views::sample(sampler, options, prepare)` also runs a `DeterministicTransform` (resize, crop,
/// standardize, …) on each clip where it was decoded: on the workers, so the CPU work of a clip
/// scales with them and the thread that reads the view only collects clips. Random augmentations
/// stay downstream in `views::transform`: their draws follow the clips' order, whatever W.
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
#include <longform/core/reflect.hpp>
#include <longform/pipeline/detail/decode_workers.hpp>
#include <longform/pipeline/detail/generator.hpp>
#include <longform/pipeline/detail/prepare.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/sampler/context.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/forward_only.hpp>
#include <longform/transform/concepts.hpp>

namespace longform {

/// How `views::sample` runs its sampler.
struct SampleOptions {
  ContextOptions context;              ///< decoding, open readers, telemetry
  std::optional<SamplerState> resume;  ///< restore the sampler to this state first
  bool record_state = true;            ///< set `Clip::resume` on every clip
  /// Decode threads. 1: the thread that reads the view decodes. W > 1: W workers, each with its own
  /// readers, decode chunks of consecutive clips at once (one long video too, in W segments).
  /// Memory bound: at most 2·W chunks are in flight, i.e. 2·W·max(1, ⌊chunk_frames / clip span⌋)
  /// clips (as decoded and as prepared), plus each worker's open readers. Sources that are read
  /// forward only (`Stream`, `-`, `pipe:N`) always use 1.
  int workers = 1;
  /// With W > 1: the clips dealt to one worker at a time span about this many frames. Each chunk
  /// starts with a seek, which decodes up to a GOP before it; 256 frames keep W workers evenly
  /// busy on a video of a few minutes (1024 left one of 2 workers idle a third of the time on
  /// 3180 frames) for about 6 % more decoding at a 48-frame GOP.
  std::int64_t chunk_frames = 256;
};

namespace detail {

// Sources whose videos decode workers can each open and seek in: not those that say they are
// read forward only (`Stream`), nor standard input, pipes or live URLs among a list's names.
template <class Src>
bool can_decode_in_parallel(const Src& source) {
  if constexpr (!std::copy_constructible<Src> || !SeekableFrameReader<reader_t<Src>>) {
    return false;
  } else {
    if constexpr (requires {
                    { source.forward_only() } -> std::convertible_to<bool>;
                  }) {
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

/// The closure `views::sample(sampler, options, prepare)`, applied to a source with `|`.
template <class Sampler, class Prepare>
struct sample_closure {
  Sampler sampler;
  SampleOptions options;
  Prepare prepare;
};

struct sample_fn {
  /// `sample(source, sampler, options, prepare)`: the clips of `source`, each `prepare`d where it
  /// was decoded.
  template <class Src, class Sampler, class Prepare = detail::as_decoded>
  auto operator()(Src source, Sampler sampler, SampleOptions options = {}, Prepare prepare = {}) const {
    constexpr bool well_formed =  // each says in words what is wrong with its type; no error cascade after
        detail::require_source<Src>() && detail::require_sampler<Sampler>() && detail::require_deterministic_transform<Prepare>();
    if constexpr (!well_formed) {
      return detail::generator_view<Clip>();
    } else {
      struct state {
        ClipContext ctx;
        Sampler sampler;
        Prepare prepare;
        bool record;
      };
      if (options.resume) sampler.restore(*options.resume);
      if (options.workers > 1 && detail::can_decode_in_parallel(source)) {
        auto w = std::make_shared<detail::decode_workers<Src, Sampler, Prepare>>(source, std::move(sampler), prepare, std::move(options.context),
                                                                                 options.record_state, options.workers,
                                                                                 std::max<std::int64_t>(1, options.chunk_frames));
        return detail::generator_view<Clip>([w]() { return w->next(); });
      }
      auto s = std::make_shared<state>(
          state{ClipContext(std::move(source), options.context), std::move(sampler), std::move(prepare), options.record_state});
      return detail::generator_view<Clip>([s]() -> std::optional<Clip> {
        auto clip = s->sampler.next(s->ctx);
        if (!clip) return clip;
        if (s->record) clip->resume = s->sampler.state();
        return detail::prepared(s->prepare, std::move(*clip));
      });
    }
  }
  /// `sample(sampler, options, prepare)`: a closure for `source | sample(sampler, …)`.
  template <class Sampler, class Prepare = detail::as_decoded>
  auto operator()(Sampler sampler, SampleOptions options = {}, Prepare prepare = {}) const {
    static_assert(detail::require_sampler<Sampler>() && detail::require_deterministic_transform<Prepare>());
    return sample_closure<Sampler, Prepare>{std::move(sampler), std::move(options), std::move(prepare)};
  }
};

/// Clips of a source, as chosen by a sampler (see the file comment).
inline constexpr sample_fn sample{};

/// `source | views::sample(sampler)`.
template <class Src, class Sampler, class Prepare>
auto operator|(Src&& source, sample_closure<Sampler, Prepare> closure) {
  return sample(std::remove_cvref_t<Src>(std::forward<Src>(source)), std::move(closure.sampler), std::move(closure.options),
                std::move(closure.prepare));
}

}  // namespace views
}  // namespace longform

LONGFORM_REFLECT(longform::SampleOptions, context, resume, record_state, workers, chunk_frames);
