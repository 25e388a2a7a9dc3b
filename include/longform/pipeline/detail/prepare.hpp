// SPDX-License-Identifier: MIT
/// @file
/// Preparing a clip where it was decoded (`views::sample`'s `prepare`): the transform runs with
/// LibTorch's ops on the calling thread only. Decode workers are already one thread per core, and
/// a clip's bytes must not depend on how many threads split its reductions, so that W workers
/// give the same floats as one.
// IWYU pragma: private, include <longform/pipeline.hpp>
#pragma once

#include <utility>

#if __has_include(<c10/util/ParallelGuard.h>)
#include <c10/util/ParallelGuard.h>
#define LONGFORM_HAS_PARALLEL_GUARD 1
#endif

#include <longform/core/clip.hpp>
#include <longform/transform/concepts.hpp>

namespace longform::detail {

/// `prepare` when none is given: the clip as decoded.
struct as_decoded {
  using transform_concept = transform_tag;
  Clip operator()(Clip clip) const { return clip; }
};

/// `prepare(clip)` on this thread alone.
template <class Prepare>
Clip prepared(Prepare& prepare, Clip clip) {
#ifdef LONGFORM_HAS_PARALLEL_GUARD
  const c10::ParallelGuard this_thread_only(true);
#endif
  return prepare(std::move(clip));
}

}  // namespace longform::detail
