// SPDX-License-Identifier: MIT
/// @file
/// The clip pipeline as range-v3 views:
///
///     auto batches = source | views::sample(SequentialSampler<Frames<16>, Stride<4>>{})
///                           | views::transform(CenterCrop{224} | Standardize{})
///                           | views::batch(8)
///                           | views::prefetch(4, telemetry);
///     for (const ClipBatch& b : batches) { … b.data is [8, 3, 16, 224, 224] float … }
///
/// Stages: `sample` (clips from a source), `transform` (any `ClipTransform`, also on batches),
/// `batch` (stack B clips), `prefetch` (background thread, bounded queue, errors forwarded). Any
/// range-v3 view composes with them (`ranges::views::take(n)`, …). Threads: see `core/threads.hpp`.
#pragma once

#include <longform/core/telemetry.hpp>
#include <longform/core/threads.hpp>
#include <longform/pipeline/batch.hpp>
#include <longform/pipeline/prefetch.hpp>
#include <longform/pipeline/sample.hpp>
#include <longform/pipeline/transform.hpp>
