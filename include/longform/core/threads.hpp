// SPDX-License-Identifier: MIT
/// @file
/// `ThreadBudget`: one deliberate split of the machine's cores between FFmpeg's decoder threads,
/// the pipeline's producer (`prefetch`) threads and LibTorch's intra-op pool.
///
/// Without it each part sizes itself for the whole machine (FFmpeg: one decoder thread per core per
/// open video; LibTorch: one intra-op thread per core — or 1 on some builds) and they oversubscribe,
/// or LibTorch runs a model on one thread. `plan` divides `total` cores: the producers first, then
/// half of the rest for decoding (frame-threaded H.264 scales well to ~8), the rest for LibTorch,
/// which the consumer (the model) and the producer's transforms share. `apply()` sets LibTorch's
/// pool; the decoder share goes into `ReaderOptions::threads` of the source.
#pragma once

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace longform {

/// How many threads each part of a run may use.
struct ThreadBudget {
  int total = 1;      ///< cores to use
  int producers = 1;  ///< pipeline producer threads (one per `prefetch` stage)
  int decoder = 1;    ///< FFmpeg threads per open video (`ReaderOptions::threads`)
  int intra_op = 1;   ///< LibTorch intra-op threads (`at::set_num_threads`)

  /// Splits `total` cores (0 = all of this machine) for `producers` producer threads.
  [[nodiscard]] static ThreadBudget plan(int total = 0, int producers = 1) {
    ThreadBudget b;
    b.total = total > 0 ? total : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    b.producers = std::max(1, producers);
    const int rest = std::max(0, b.total - b.producers);
    b.decoder = std::clamp(rest / 2, 1, 8);
    b.intra_op = std::max(1, rest - b.decoder);
    return b;
  }

  /// Sets LibTorch's intra-op pool to `intra_op` threads (process-wide).
  void apply() const { at::set_num_threads(intra_op); }
};

}  // namespace longform
