// SPDX-License-Identifier: MIT
/// @file
/// `SyntheticStream`: the built-in benchmark's long-form videos. Minutes of procedural footage
/// per video, cut into scenes (each with its own background and several objects moving by the
/// `Motion` family of synthetic_motion.hpp); the scene lengths vary. Deterministic from a seed,
/// no files, exact seeking: the stand-in for AVA's 15-minute movies on a laptop.
///
///     longform::SyntheticStream streams({.seed = 0, .videos = 4, .frames = 3 * 60 * 25});
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include <longform/core/error.hpp>
#include <longform/core/frame.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/splitmix.hpp>
#include <longform/core/video_info.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/detail/procedural_source.hpp>
#include <longform/source/detail/rendered_frames.hpp>
#include <longform/source/synthetic_motion.hpp>

namespace longform {

/// What `SyntheticStream` generates.
struct SyntheticStreamOptions {
  std::uint64_t seed = 0;
  std::size_t videos = 4;
  std::int64_t frames = 3 * 60 * 25;  ///< frames per video (default: 3 minutes at 25 fps)
  std::int64_t width = 80;
  std::int64_t height = 64;
  Rational fps{25, 1};
  std::int64_t scene_frames = 250;  ///< mean scene length; each scene lasts 0.5 to 1.5 times this
  int objects = 3;                  ///< moving objects per scene, each with a random `Motion`
};

/// Frames of one `SyntheticStream` video.
class SyntheticStreamReader : public detail::RenderedFrames<SyntheticStreamReader> {
 public:
  SyntheticStreamReader(const SyntheticStreamOptions& options, std::size_t video) : options_(options), video_(video) {
    info_ = detail::rendered_video_info("synthetic-stream:" + std::to_string(options.seed) + "/" + std::to_string(video), options);
    // The scene boundaries first, from their own generator, so a scene's content does not depend
    // on how many draws the boundaries took.
    SplitMix64 cuts(options.seed * 0x9e3779b97f4a7c15ULL + video * 0x100000001b3ULL + 1);
    for (std::int64_t start = 0; start < options.frames;) {
      scene_start_.push_back(start);
      start += std::max<std::int64_t>(1, static_cast<std::int64_t>(cuts.uniform(0.5, 1.5) * static_cast<double>(options.scene_frames)));
    }
    scenes_.resize(scene_start_.size());
  }

  [[nodiscard]] const VideoInfo& info() const noexcept { return info_; }
  [[nodiscard]] std::int64_t frame_count() const noexcept { return options_.frames; }
  /// Scenes in the video and the first frame of each.
  [[nodiscard]] const std::vector<std::int64_t>& scene_starts() const noexcept { return scene_start_; }

 private:
  friend detail::RenderedFrames<SyntheticStreamReader>;  // next(), skip() and seek_frame() render through it
  struct Scene {
    bool built = false;
    Background background;
    std::vector<MovingObject> objects;
  };

  at::Tensor render(std::int64_t t) {
    const auto i = static_cast<std::size_t>(std::upper_bound(scene_start_.begin(), scene_start_.end(), t) - scene_start_.begin() - 1);
    Scene& s = scenes_[i];
    if (!s.built) {  // lazily: a 15-minute video has ~100 scenes, most never looked at by a short run
      SplitMix64 rng(options_.seed * 0xbf58476d1ce4e5b9ULL + video_ * 0x100000001b3ULL + i * 0x94d049bb133111ebULL);
      s.background = random_background(rng, options_.width, options_.height);
      for (int k = 0; k < options_.objects; ++k) {
        s.objects.push_back(random_object(rng, static_cast<Motion>(rng() % motion_count), options_.width, options_.height));
      }
      s.built = true;
    }
    return render_motion(s.background, s.objects, static_cast<double>(t - scene_start_[i]), options_.width, options_.height);
  }

  SyntheticStreamOptions options_;
  std::uint64_t video_;
  VideoInfo info_;
  std::vector<std::int64_t> scene_start_;
  std::vector<Scene> scenes_;
};

static_assert(SeekableFrameReader<SyntheticStreamReader>);

/// `options.videos` long-form synthetic videos as a `VideoSource`.
class SyntheticStream : public detail::ProceduralSource<SyntheticStreamOptions, SyntheticStreamReader> {
 public:
  /// @throws config_error for non-positive sizes, frame counts, scene length or frame rate.
  explicit SyntheticStream(SyntheticStreamOptions options = {})
      : ProceduralSource(options, "SyntheticStream", "synthetic-stream", options.scene_frames > 0 && options.objects >= 0,
                         "videos, frames, width, height, fps and scene_frames must be positive") {}
};

static_assert(VideoSource<SyntheticStream>);

}  // namespace longform

LONGFORM_REFLECT(longform::SyntheticStreamOptions, seed, videos, frames, width, height, fps, scene_frames, objects);
