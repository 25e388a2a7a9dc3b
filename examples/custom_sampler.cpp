// SPDX-License-Identifier: MIT
// A new sampler without touching the library: `ReverseTime` walks each video from its end to its
// start, clip by clip, with the frames of each clip in reverse order (time runs backwards: a
// pretext signal for arrow-of-time objectives). Being a `ClipSampler` is all it takes to run in
// the pipeline — and in a `Pretrainer`, with exact resume — like the built-in samplers.
#include <cstdint>
#include <cstdio>
#include <optional>

#include <longform/pipeline.hpp>
#include <longform/sampler/concepts.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/transform/resize.hpp>
#include <longform/transform/standardize.hpp>

/// Clips of `frames` frames `stride` apart, from the end of each video backwards, frames reversed.
class ReverseTime {
 public:
  using sampler_concept = longform::sampler_tag;  // the opt-in: this type means to be a sampler

  ReverseTime(std::int64_t frames, std::int64_t stride) : frames_(frames), stride_(stride) {}

  std::optional<longform::Clip> next(longform::ClipContext& ctx) {
    const std::int64_t span = (frames_ - 1) * stride_ + 1;
    while (video_ < static_cast<std::int64_t>(ctx.size())) {
      const std::int64_t n = ctx.meta(static_cast<std::size_t>(video_)).frames;  // exact for seekable sources
      const std::int64_t last = n - 1 - j_ * span;                               // clip j ends here and reaches back `span` frames
      if (last - span + 1 >= 0) {
        longform::Clip clip;
        clip.video = static_cast<std::size_t>(video_);
        for (std::int64_t t = 0; t < frames_; ++t) clip.frames.push_back(last - t * stride_);  // reversed
        if (ctx.fill(clip)) {
          ++j_;
          return clip;
        }
      }
      ++video_;  // this video is used up: on to the next one
      j_ = 0;
    }
    return std::nullopt;
  }
  // The resume point is two numbers; `restore` makes `next` continue right after the clip it came with.
  [[nodiscard]] longform::SamplerState state() const { return {"reverse_time", {video_, j_}}; }
  void restore(const longform::SamplerState& s) {
    video_ = s.values.at(0);
    j_ = s.values.at(1);
  }

 private:
  std::int64_t frames_, stride_, video_ = 0, j_ = 0;
};
static_assert(longform::ClipSampler<ReverseTime>);

int main() {
  namespace views = longform::views;
  const longform::SyntheticVideo source({.videos = 2, .frames = 120, .width = 64, .height = 48});
  auto batches = source | views::sample(ReverseTime(8, 2)) | views::transform(longform::Resize{{}, 32, 32} | longform::Standardize{}) |
                 views::batch(4) | views::prefetch(2);
  int n = 0;
  longform::SamplerState after_second;
  for (const longform::ClipBatch& b : batches) {
    const auto& first = b.clips.front();
    std::printf("batch %d: %s from %s, frames %lld..%lld (reversed)\n", n, c10::str(b.data.sizes()).c_str(), first.name.c_str(),
                static_cast<long long>(first.frames.front()), static_cast<long long>(first.frames.back()));
    if (first.frames.front() <= first.frames.back()) return 1;  // time must run backwards
    if (++n == 2) after_second = b.resume;
  }
  // Resume after the second batch: the third batch of a fresh stream must be the same clips.
  auto resumed = source | views::sample(ReverseTime(8, 2), {.resume = after_second}) | views::batch(4);
  for (const longform::ClipBatch& b : resumed) {
    std::printf("resumed at video %zu, frames %lld..\n", b.clips.front().video, static_cast<long long>(b.clips.front().frames.front()));
    // Video 0 holds 8 clips of span 15 (two batches); the stream continues at the end of video 1.
    return n == 4 && b.clips.front().video == 1 && b.clips.front().frames.front() == 119 ? 0 : 1;
  }
  return 1;
}
