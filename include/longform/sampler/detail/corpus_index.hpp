// SPDX-License-Identifier: MIT
/// @file
/// `CorpusIndex`: the items of every video of a source (random-clip segments, clip starts) numbered
/// across the source, for the samplers that draw uniformly over all of them: item k of the corpus is
/// item `k − first(v)` of the video v that holds it.
// IWYU pragma: private, include <longform/sampler.hpp>
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <longform/sampler/context.hpp>

namespace longform::detail {

/// Items numbered across a source's videos (see the file comment).
class CorpusIndex {
 public:
  /// Where an item of the corpus lies: its video and its index within that video.
  struct Item {
    std::size_t video;
    std::int64_t index;
  };

  /// Not built: `built()` is false.
  CorpusIndex() = default;
  /// Video v's items are `count(v, ctx.meta(v))`; a video without frames (empty, or skipped as
  /// unreadable: `ContextOptions::skip_bad_videos`) has none and is not asked about.
  template <class Count>
  CorpusIndex(ClipContext& ctx, Count count) : cumulative_{0} {
    for (std::size_t v = 0; v < ctx.size(); ++v) {
      const VideoMeta m = ctx.meta(v);
      cumulative_.push_back(cumulative_.back() + (m.frames == 0 ? 0 : static_cast<std::int64_t>(count(v, m))));
    }
  }

  [[nodiscard]] bool built() const noexcept { return !cumulative_.empty(); }
  /// Items in all videos.
  [[nodiscard]] std::int64_t total() const noexcept { return cumulative_.back(); }
  /// Item `k` (0 ≤ k < total()).
  [[nodiscard]] Item locate(std::int64_t k) const {
    const auto video = static_cast<std::size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), k) - cumulative_.begin() - 1);
    return {video, k - cumulative_[video]};
  }

 private:
  std::vector<std::int64_t> cumulative_;  // cumulative_[v]: items in videos 0..v-1; back(): all of them
};

}  // namespace longform::detail
