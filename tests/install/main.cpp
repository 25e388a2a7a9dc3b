// SPDX-License-Identifier: MIT
// Uses the installed headers end to end: generate a synthetic clip, encode it, read it back.
#include <longform/io/video_reader.hpp>
#include <longform/io/video_writer.hpp>

#include <ATen/ops/full.h>

#include <cstdio>
#include <filesystem>

int main() {
  const auto path = (std::filesystem::temp_directory_path() / "longform_consumer.mp4").string();
  {
    longform::VideoWriter writer(path, {.width = 64, .height = 48, .fps = {25, 1}});
    for (int i = 0; i < 10; ++i) writer.write(at::full({48, 64, 3}, i * 20, at::kByte));
  }
  longform::VideoReader reader(path);
  int n = 0;
  while (reader.next()) ++n;
  std::printf("consumer decoded %d frames of %lldx%lld\n", n, static_cast<long long>(reader.info().width),
              static_cast<long long>(reader.info().height));
  std::filesystem::remove(path);
  return n == 10 ? 0 : 1;
}
