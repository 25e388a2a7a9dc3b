// SPDX-License-Identifier: MIT
// VideoWriter round trips: what is written decodes back, close to the input.
#include <ATen/ops/abs.h>
#include <ATen/ops/mean.h>
#include <ATen/ops/sub.h>
#include <ATen/ops/zeros.h>

#include <longform/io/video_reader.hpp>
#include <longform/io/video_writer.hpp>
#include <longform/source/synthetic_video.hpp>

#include "../support.hpp"
#include "../catch.hpp"

namespace lt = longform::test;

TEST_CASE("written frames decode back close to the input", "[io]") {
  const auto dir = lt::scratch("writer");
  // libx264 by default, and a codec chosen by name (one the GPU host's minimal FFmpeg has too).
  for (const std::string codec : {"", "mpeg2video"}) {
    const auto path = (dir / ("out" + codec + ".mp4")).string();
    INFO(path);
    longform::SyntheticVideo source({.seed = 3, .frames = 40, .width = 160, .height = 120});
    auto synthetic = source.open(0);
    std::vector<at::Tensor> written;
    {
      longform::VideoWriter writer(path, {.width = 160, .height = 120, .fps = {25, 1}, .codec = codec});
      CHECK(writer.codec() == (codec.empty() ? "libx264" : codec));
      while (auto f = synthetic.next()) {
        writer.write(f->rgb);
        written.push_back(f->rgb);
      }
      writer.finish();
      CHECK(writer.frames_written() == 40);
    }
    longform::VideoReader reader(path);
    CHECK(reader.info().codec == (codec.empty() ? "h264" : codec));
    CHECK((reader.info().fps == longform::Rational{25, 1}));
    std::size_t i = 0;
    while (auto f = reader.next()) {
      REQUIRE(i < written.size());
      const double err = at::mean(at::abs(at::sub(f->rgb.toType(at::kFloat), written[i++].toType(at::kFloat)))).item<double>();
      CHECK(err < 6.0);  // lossy, but the same picture
    }
    CHECK(i == written.size());
  }
}

TEST_CASE("VideoWriter rejects bad sizes and frames with a typed error naming the file", "[io]") {
  const auto path = (lt::scratch("writer-bad") / "bad.mp4").string();
  CHECK_THROWS_AS(longform::VideoWriter(path, {.width = 63, .height = 48}), longform::encode_error);
  longform::VideoWriter writer(path, {.width = 64, .height = 48});
  try {
    writer.write(at::zeros({48, 32, 3}, at::kByte));
    FAIL("accepted a frame of the wrong size");
  } catch (const longform::encode_error& e) {
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
  CHECK_THROWS_AS(longform::VideoWriter("/nonexistent-dir/x.mp4", {.width = 64, .height = 48}), longform::encode_error);
}
