// SPDX-License-Identifier: MIT
/// @file
/// `ThreadBudget`: one deliberate plan for the machine's cores: decode workers, FFmpeg's threads
/// per reader, the pipeline's producer (`prefetch`) threads and LibTorch's intra-op pool.
///
/// Without it each part sizes itself for the whole machine (FFmpeg: one decoder thread per core per
/// open video; LibTorch: one intra-op thread per core — or 1 on some builds), or LibTorch runs a
/// model on one thread while a decode thread idles. The plan gives decoding and the model every
/// core each: decode workers (`SampleOptions::workers`, one reader and one FFmpeg thread each) sleep
/// whenever the pipeline is ahead of the model, so their cores go to LibTorch, and when the model
/// waits for data its cores decode. A forward-only input (a pipe, a live stream) has one reader:
/// `decoder_for_one_reader()` gives it frame threads instead. `apply()` sets LibTorch's pool.
#pragma once

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace longform {

/// How many threads each part of a run may use.
struct ThreadBudget {
  int total = 1;      ///< cores to use
  int producers = 1;  ///< pipeline producer threads (one per `prefetch` stage)
  int workers = 1;    ///< decode workers (`SampleOptions::workers`)
  int decoder = 1;    ///< FFmpeg threads per open video (`ReaderOptions::threads`)
  int intra_op = 1;   ///< LibTorch intra-op threads (`at::set_num_threads`)

  /// The plan for `total` cores (0 = all of this machine) and `producers` producer threads.
  [[nodiscard]] static ThreadBudget plan(int total = 0, int producers = 1) {
    ThreadBudget b;
    b.total = total > 0 ? total : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    b.producers = std::max(1, producers);
    b.workers = b.total;
    b.decoder = 1;
    b.intra_op = b.total;
    return b;
  }

  /// FFmpeg threads for an input only one reader can decode (a pipe, a live stream): frame-threaded
  /// H.264 scales to about 8.
  [[nodiscard]] int decoder_for_one_reader() const noexcept { return std::clamp(total, 1, 8); }

  /// FFmpeg threads per reader when `workers` decode workers run: `decoder` each when several
  /// decode side by side, `decoder_for_one_reader()` for a lone reader.
  [[nodiscard]] int decoder_threads(int workers) const noexcept { return workers > 1 ? decoder : decoder_for_one_reader(); }

  /// Sets LibTorch's intra-op pool to `intra_op` threads (process-wide).
  void apply() const { at::set_num_threads(intra_op); }
};

}  // namespace longform
