// SPDX-License-Identifier: MIT
/// @file
/// `ActionClips`: the clips a downstream protocol sees of labelled videos (an `ActionSplit`'s train
/// or test list), read through `VideoReader` with exact seeks, as the pre-training pipeline
/// prepares them (short side scaled to `size`, `size²` crop, per-frame `Standardize`):
///
/// - training: one clip of `frames` frames `stride` apart at a random temporal position, a random
///   spatial crop along the long side (and a horizontal flip when `flip`);
/// - testing: `clips` uniformly spaced clips × `crops` spatial crops (1: centre; 3: both ends and
///   the centre of the long side), as `[views, C, T, size, size]`, clip-major. Their predictions
///   are averaged (`average_view_predictions`, eval/views.hpp).
///
/// Videos shorter than a clip repeat their last frame.
///
///     longform::ActionClips test(split.test, {.frames = 16, .stride = 4, .size = 112, .clips = 10, .crops = 3});
///     at::Tensor views = test.test_views(0);   // [30, 3, 16, 112, 112]
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/stack.h>

#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/data/action_split.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/transform/resize.hpp>
#include <longform/transform/standardize.hpp>

namespace longform {

/// How `ActionClips` cuts clips and views.
struct ActionClipOptions {
  std::int64_t frames = 16;  ///< T
  std::int64_t stride = 4;   ///< τ, frame step inside a clip
  std::int64_t size = 112;   ///< short side and crop side
  std::int64_t clips = 5;    ///< test: temporal clips per video, uniformly spaced
  std::int64_t crops = 1;    ///< test: spatial crops per clip, 1 or 3
  bool flip = false;         ///< training: random horizontal flips. Off by default: a flip turns "left" into "right"
  int threads = 1;           ///< FFmpeg decoder threads per video
};

/// Frame indices `start + t·stride`, t < frames, clamped to the last of `count` frames.
[[nodiscard]] inline std::vector<std::int64_t> clip_frames(std::int64_t start, std::int64_t frames, std::int64_t stride, std::int64_t count) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(frames));
  for (std::int64_t t = 0; t < frames; ++t) out[static_cast<std::size_t>(t)] = std::min(start + t * stride, count - 1);
  return out;
}

/// `k` clip starts spread uniformly over a video of `count` frames, clips spanning `span` frames:
/// first at 0, last ending at the last frame (one clip: centred). All 0 when the video is shorter.
[[nodiscard]] inline std::vector<std::int64_t> uniform_clip_starts(std::int64_t count, std::int64_t span, std::int64_t k) {
  const double room = static_cast<double>(std::max<std::int64_t>(0, count - span));
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < k; ++i) {
    const double at = k == 1 ? room / 2 : room * static_cast<double>(i) / static_cast<double>(k - 1);
    out.push_back(static_cast<std::int64_t>(std::lround(at)));
  }
  return out;
}

/// `crops` square `size` crops of `clip` `[..., H, W]` along its long side: 1 = the centre,
/// 3 = start, centre, end (SlowFast's `uniform_crop` order: 0, centre, end).
[[nodiscard]] inline std::vector<at::Tensor> spatial_crops(const at::Tensor& clip, std::int64_t size, std::int64_t crops) {
  TORCH_CHECK(crops == 1 || crops == 3, "spatial_crops: crops must be 1 or 3, got ", crops);
  const auto H = clip.size(-2), W = clip.size(-1);
  TORCH_CHECK(H >= size && W >= size, "spatial_crops: a ", size, "x", size, " crop does not fit in ", H, "x", W);
  const bool wide = W >= H;
  const auto room = (wide ? W : H) - size, across = ((wide ? H : W) - size) / 2;
  std::vector<at::Tensor> out;
  for (const std::int64_t along : crops == 1 ? std::vector<std::int64_t>{room / 2} : std::vector<std::int64_t>{0, room / 2, room}) {
    out.push_back(clip.narrow(-2, wide ? across : along, size).narrow(-1, wide ? along : across, size));
  }
  return out;
}

/// Clips and test views of labelled videos (see the file comment).
class ActionClips {
 public:
  /// @throws config_error for non-positive frames, stride, size or clips, or crops other than 1 and 3.
  ActionClips(std::vector<LabeledVideo> videos, ActionClipOptions options) : videos_(std::move(videos)), options_(options) {
    if (options_.frames <= 0 || options_.stride <= 0 || options_.size <= 0 || options_.clips <= 0) {
      throw config_error("ActionClips: frames, stride, size and clips must be positive");
    }
    if (options_.crops != 1 && options_.crops != 3)
      throw config_error("ActionClips: crops must be 1 or 3 (was " + std::to_string(options_.crops) + ")");
  }

  [[nodiscard]] std::size_t size() const noexcept { return videos_.size(); }
  [[nodiscard]] const LabeledVideo& video(std::size_t i) const { return videos_.at(i); }
  [[nodiscard]] const std::vector<LabeledVideo>& videos() const noexcept { return videos_; }
  [[nodiscard]] const ActionClipOptions& options() const noexcept { return options_; }
  /// Views per test video: `clips · crops`.
  [[nodiscard]] std::int64_t views() const noexcept { return options_.clips * options_.crops; }

  /// A training clip of video `i`, `float [C, T, size, size]`, random in time and space (`rng`).
  /// @throws decode_error / open_error naming the video.
  [[nodiscard]] at::Tensor train_clip(std::size_t i, SplitMix64& rng) const {
    VideoReader reader = open(i);
    const auto count = reader.frame_count();
    const auto span = (options_.frames - 1) * options_.stride + 1;
    const auto start = static_cast<std::int64_t>(rng.uniform() * static_cast<double>(std::max<std::int64_t>(0, count - span) + 1));
    at::Tensor clip = scaled(read(reader, clip_frames(start, options_.frames, options_.stride, count)));
    const bool wide = clip.size(-1) >= clip.size(-2);
    const auto room = (wide ? clip.size(-1) : clip.size(-2)) - options_.size;
    const auto along = static_cast<std::int64_t>(rng.uniform() * static_cast<double>(room + 1));
    const auto across = ((wide ? clip.size(-2) : clip.size(-1)) - options_.size) / 2;
    clip = clip.narrow(-2, wide ? across : along, options_.size).narrow(-1, wide ? along : across, options_.size);
    if (options_.flip && rng.uniform() < 0.5) clip = clip.flip({-1});
    return Standardize{}(clip.contiguous());
  }

  /// The test views of video `i`, `float [clips · crops, C, T, size, size]`, clip-major.
  /// @throws decode_error / open_error naming the video.
  [[nodiscard]] at::Tensor test_views(std::size_t i) const {
    VideoReader reader = open(i);
    const auto count = reader.frame_count();
    const auto span = (options_.frames - 1) * options_.stride + 1;
    std::vector<std::int64_t> wanted;
    for (const auto start : uniform_clip_starts(count, span, options_.clips)) {
      const auto f = clip_frames(start, options_.frames, options_.stride, count);
      wanted.insert(wanted.end(), f.begin(), f.end());
    }
    // One forward pass over the union of the frames the clips need (they may overlap).
    const at::Tensor all = scaled(read(reader, wanted));  // [C, clips·T, H, W]
    std::vector<at::Tensor> views;
    for (std::int64_t c = 0; c < options_.clips; ++c) {
      for (auto& v : spatial_crops(all.narrow(1, c * options_.frames, options_.frames), options_.size, options_.crops)) {
        views.push_back(Standardize{}(v.contiguous()));
      }
    }
    return at::stack(views);
  }

 private:
  VideoReader open(std::size_t i) const {
    VideoReader reader(videos_.at(i).path.string(), {.threads = options_.threads});
    if (reader.frame_count() == 0) throw decode_error(reader.info().path, "read clip", "the video has no frames");
    return reader;
  }

  // `uint8 [C, T, H, W]` of frames `wanted` (any order, repeats allowed), decoded in one forward pass.
  static at::Tensor read(VideoReader& reader, const std::vector<std::int64_t>& wanted) {
    std::vector<std::int64_t> order(wanted);
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    std::vector<at::Tensor> decoded(order.size());
    reader.seek_frame(order.front());
    for (std::size_t k = 0; k < order.size(); ++k) {
      reader.skip_to(order[k]);
      auto f = reader.next();
      if (!f || f->index != order[k]) {
        throw decode_error(reader.info().path, "read frame " + std::to_string(order[k]), "the frame could not be decoded");
      }
      decoded[k] = f->rgb;
    }
    std::vector<at::Tensor> frames;
    for (const auto w : wanted) frames.push_back(decoded[static_cast<std::size_t>(std::lower_bound(order.begin(), order.end(), w) - order.begin())]);
    return at::stack(frames).permute({3, 0, 1, 2});
  }

  at::Tensor scaled(const at::Tensor& clip) const {
    ShortSideScale scale;
    scale.size = options_.size;
    return scale(clip);
  }

  std::vector<LabeledVideo> videos_;
  ActionClipOptions options_;
};

}  // namespace longform

LONGFORM_REFLECT(longform::ActionClipOptions, frames, stride, size, clips, crops, flip, threads);
