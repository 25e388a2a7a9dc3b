// SPDX-License-Identifier: MIT
/// @file
/// `Telemetry`: counters a pipeline fills while it runs, readable from any thread.
///
/// - Decode amplification = frames decoded / frames used. Sequential clips with stride τ decode
///   about τ frames per frame used (every frame between two used ones must be decoded); random
///   clips add the frames decoded after each keyframe seek.
/// - Consumer wait = time the consumer spent blocked in `prefetch` waiting for the producer. Near
///   zero means the pipeline keeps up with the model; close to the wall time means it is the bottleneck.
/// - Bad input: packets the decoder rejected (skipped, the stream goes on) and videos skipped because
///   they failed to open or decode (`ContextOptions::skip_bad_videos`), each with the error's text.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace longform {

/// A video a pipeline skipped, and why.
struct SkippedVideo {
  std::string video;  ///< the source's name for it (its path)
  std::string error;  ///< the error's `what()`: path, operation, FFmpeg's text
};

/// Pipeline counters. Share one with `std::make_shared<Telemetry>()` and pass it to `sample()` and
/// `prefetch()`; the counters are atomics and the skip list is locked, so it can be read while the
/// pipeline runs.
struct Telemetry {
  std::atomic<std::int64_t> frames_decoded{0};   ///< frames the decoder produced (seeking included)
  std::atomic<std::int64_t> frames_used{0};      ///< frames that ended up in a clip
  std::atomic<std::int64_t> clips{0};            ///< clips produced by samplers
  std::atomic<std::int64_t> opens{0};            ///< videos opened
  std::atomic<std::int64_t> seeks{0};            ///< seeks made (0 for sequential sampling)
  std::atomic<std::int64_t> wait_ns{0};          ///< time the consumer waited in `prefetch`
  std::atomic<std::int64_t> produced{0};         ///< elements `prefetch` handed to the consumer
  std::atomic<std::int64_t> corrupt_packets{0};  ///< packets the decoder rejected; skipped, the stream went on
  std::atomic<std::int64_t> videos_skipped{0};   ///< videos that failed to open or decode, skipped (see `skipped()`)

  /// Records a skipped video (counted in `videos_skipped`), once: decode workers may each meet it.
  void skip(std::string video, std::string error) {
    std::lock_guard lock(mutex_);
    for (const auto& s : skipped_) {
      if (s.video == video) return;
    }
    skipped_.push_back({std::move(video), std::move(error)});
    ++videos_skipped;
  }
  /// The videos skipped so far, in order, from `first` on.
  [[nodiscard]] std::vector<SkippedVideo> skipped(std::size_t first = 0) const {
    std::lock_guard lock(mutex_);
    if (first >= skipped_.size()) return {};
    return {skipped_.begin() + static_cast<std::ptrdiff_t>(first), skipped_.end()};
  }

  /// Frames decoded per frame used; 0 before any clip.
  [[nodiscard]] double amplification() const noexcept {
    const auto used = frames_used.load();
    return used == 0 ? 0.0 : static_cast<double>(frames_decoded.load()) / static_cast<double>(used);
  }
  /// Seconds the consumer waited for data.
  [[nodiscard]] double wait_seconds() const noexcept { return static_cast<double>(wait_ns.load()) * 1e-9; }

 private:
  mutable std::mutex mutex_;
  std::vector<SkippedVideo> skipped_;
};

}  // namespace longform
