// SPDX-License-Identifier: MIT
// Uses the installed headers end to end: generate a synthetic clip, encode it, read it back with
// options read from JSON (nlohmann-json comes with the package).
#include <longform/core/json.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/io/video_writer.hpp>

#include <ATen/ops/full.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>

int main() {
  const auto path = (std::filesystem::temp_directory_path() / "longform_consumer.mp4").string();
  {
    longform::VideoWriter writer(path, {.width = 64, .height = 48, .fps = {25, 1}});
    for (int i = 0; i < 10; ++i) writer.write(at::full({48, 64, 3}, i * 20, at::kByte));
  }
  const auto options = longform::from_json<longform::ReaderOptions>(nlohmann::json::parse(R"({"threads": 1, "width": 32})"));
  longform::VideoReader reader(path, options);
  int n = 0;
  std::int64_t width = 0;  // of the frames given: the options' 32
  while (const auto frame = reader.next()) {
    ++n;
    width = frame->rgb.size(1);
  }
  std::printf("consumer decoded %d frames of %lldx%lld\n", n, static_cast<long long>(reader.info().width),
              static_cast<long long>(reader.info().height));
  std::filesystem::remove(path);
  return n == 10 && width == 32 ? 0 : 1;
}
