// SPDX-License-Identifier: MIT
// frames(reader): a lazy single-pass range that composes with range-v3 views.
#include <range/v3/view/stride.hpp>
#include <range/v3/view/take.hpp>
#include <range/v3/view/transform.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/range/conversion.hpp>

#include <longform/io/frames.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/source/synthetic_video.hpp>

#include "../support.hpp"
#include "../catch.hpp"

namespace lt = longform::test;

TEST_CASE("frames() is a range-v3 input view", "[io]") {
  using View = decltype(longform::frames(std::declval<longform::VideoReader&>()));
  STATIC_REQUIRE(ranges::input_range<View>);
  STATIC_REQUIRE(ranges::view_<View>);
  STATIC_REQUIRE_FALSE(ranges::forward_range<View>);  // single pass: decoding cannot be replayed
}

TEST_CASE("frames() composes with stride and take", "[io][videos]") {
  longform::VideoReader reader(lt::video("vtest_h264.mp4"), {.width = 64, .height = 48});
  auto indices = longform::frames(reader) | ranges::views::stride(3) | ranges::views::take(5) |
                 ranges::views::transform([](const longform::Frame& f) { return f.index; }) | ranges::to<std::vector<std::int64_t>>();
  CHECK((indices == std::vector<std::int64_t>{0, 3, 6, 9, 12}));
}

TEST_CASE("frames() visits every frame once, holding one at a time", "[io][videos]") {
  longform::VideoReader reader(lt::video("vtest_h264.mp4"));
  std::int64_t n = 0;
  void* previous = nullptr;
  std::int64_t distinct_buffers = 0;
  for (const auto& f : longform::frames(reader)) {
    CHECK(f.index == n++);
    distinct_buffers += f.rgb.data_ptr() != previous;
    previous = f.rgb.data_ptr();
  }
  CHECK(n == 795);
  CHECK(distinct_buffers >= 2);
}

TEST_CASE("frames() owns an rvalue reader", "[io]") {
  longform::SyntheticVideo source({.frames = 12});
  std::int64_t n = 0;
  for (const auto& f : longform::frames(source.open(0))) CHECK(f.index == n++);
  CHECK(n == 12);
}
