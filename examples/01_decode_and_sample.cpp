// SPDX-License-Identifier: MIT
// Decode a built-in video and cut it into sequential clips: the data path of online pre-training
// in twenty lines. Writes a synthetic video with VideoWriter, reads it back with VideoReader,
// and takes clips of T=8 frames with stride 4, back to back, lazily through range-v3.
#include <cstdio>
#include <filesystem>

#include <range/v3/view/chunk.hpp>
#include <range/v3/view/stride.hpp>
#include <range/v3/view/take.hpp>

#include <longform/io.hpp>
#include <longform/source/synthetic_video.hpp>

int main(int argc, char** argv) {
  const auto path = argc > 1 ? std::filesystem::path(argv[1]) : std::filesystem::temp_directory_path() / "longform_demo.mp4";
  {  // 20 s of moving shapes at 25 fps
    longform::SyntheticVideo synthetic({.seed = 1, .frames = 500, .width = 320, .height = 240});
    auto frames = synthetic.open(0);
    longform::VideoWriter writer(path.string(), {.width = 320, .height = 240, .fps = {25, 1}});
    while (auto f = frames.next()) writer.write(f->rgb);
  }
  longform::VideoReader reader(path.string(), {.threads = 2, .width = 224, .height = 224});
  const auto& info = reader.info();
  std::printf("%s: %lldx%lld, %lld/%lld fps, %.2f s, %s, ~%lld frames\n", info.path.c_str(), static_cast<long long>(info.width),
              static_cast<long long>(info.height), static_cast<long long>(info.fps.num), static_cast<long long>(info.fps.den), info.duration,
              info.codec.c_str(), static_cast<long long>(info.frame_count));

  constexpr int T = 8, stride = 4;
  int clip = 0;
  for (auto&& frames : longform::frames(reader) | ranges::views::stride(stride) | ranges::views::chunk(T) | ranges::views::take(5)) {
    std::printf("clip %d: frames", clip++);
    double first = -1, last = 0;
    for (const longform::Frame& f : frames) {
      std::printf(" %lld", static_cast<long long>(f.index));
      if (first < 0) first = f.seconds;
      last = f.seconds;
    }
    std::printf("  (%.2f-%.2f s, each frame 224x224 RGB)\n", first, last);
  }
  reader.seek_frame(321);
  std::printf("exact seek: frame %lld at %.2f s\n", static_cast<long long>(reader.next()->index), 321 / 25.0);
  std::printf("decoded %lld frames from %lld packets\n", static_cast<long long>(reader.stats().frames),
              static_cast<long long>(reader.stats().packets));
}
