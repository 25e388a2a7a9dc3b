// SPDX-License-Identifier: MIT
// The hostile-input corpus (tests/data/make-hostile-corpus, made by a CTest fixture): each class
// of bad input gets its documented behaviour (README, "Bad input"): a typed error naming the input,
// or the frames that decode with the damage skipped and counted. Also through the samplers, a list
// file naming missing videos, and `longform pretrain`.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <ATen/ops/equal.h>

#include <longform/io/video_reader.hpp>
#include <longform/sampler.hpp>
#include <longform/source/video_list.hpp>

#include "../support.hpp"
#include "../catch.hpp"

using longform::VideoReader;
namespace lt = longform::test;

namespace {

std::string hostile(const std::string& name) { return (std::filesystem::path(LONGFORM_HOSTILE_DIR) / name).string(); }

// Opens `path` and decodes it to the end; returns the frames' indices. Lets errors through.
std::vector<std::int64_t> indices_of(const std::string& path, longform::ReaderOptions options = {}) {
  VideoReader reader(path, options);
  std::vector<std::int64_t> indices;
  while (auto f = reader.next()) indices.push_back(f->index);
  return indices;
}

// `path` fails to open with an open_error naming it, whose detail contains `detail`; the CLI says
// the same and exits 1 (not a signal).
void expect_open_error(const std::string& path, const std::string& detail) {
  INFO(path);
  try {
    indices_of(path);
    FAIL("no exception for " << path);
  } catch (const longform::open_error& e) {
    CHECK(e.path() == path);
    CHECK_THAT(e.what(), Catch::Contains(path));
    CHECK_THAT(e.detail(), Catch::Contains(detail));
  }
  const auto r = lt::run(std::string(LONGFORM_CLI) + " info '" + path + "'");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains(path));
}

}  // namespace

TEST_CASE("hostile corpus: inputs that are not videos give an open_error naming them", "[io][videos][corpus]") {
  expect_open_error(hostile("missing.mp4"), "No such file or directory");
  expect_open_error(hostile("directory.mp4"), "Is a directory");
  expect_open_error(hostile("empty.mp4"), "Invalid data");
  for (const char* ext : {"mp4", "mkv", "avi", "mov"}) expect_open_error(hostile(std::string("noise.") + ext), "Invalid data");
  expect_open_error(hostile("list_with_missing.txt"), "Invalid data");  // a text file
  expect_open_error(hostile("audio_only.m4a"), "no video stream");
  expect_open_error(hostile("audio_cover_art.m4a"), "only cover art");
  expect_open_error(hostile("image.png"), "a still image");
  expect_open_error(hostile("unknown_codec.avi"), "no decoder");
  expect_open_error(hostile("zero_frames.mkv"), "");
  // MP4 keeps its index (moov) at the end: any cut loses it.
  for (const char* pct : {"01", "30", "99"}) expect_open_error(hostile(std::string("truncated_") + pct + ".mp4"), "Invalid data");
}

TEST_CASE("hostile corpus: a truncated stream yields the frames before the cut exactly, then ends", "[io][videos][corpus]") {
  VideoReader whole(lt::video("vfr_h264.mkv"));
  std::map<std::int64_t, at::Tensor> frames;  // by PTS: the cut file lacks the B-frames stored after the cut
  while (auto f = whole.next()) frames.emplace(f->pts, f->rgb);
  std::size_t previous = 0;
  for (const char* pct : {"01", "30", "99"}) {
    const auto path = hostile(std::string("truncated_") + pct + ".mkv");
    INFO(path);
    VideoReader cut(path);
    std::size_t n = 0;
    while (auto f = cut.next()) {
      REQUIRE(f->index == static_cast<std::int64_t>(n));
      REQUIRE(frames.count(f->pts) == 1);
      CHECK(at::equal(f->rgb, frames.at(f->pts)));
      ++n;
    }
    CHECK(n >= previous);
    CHECK(n < frames.size());
    previous = n;
    auto r = lt::run(std::string(LONGFORM_CLI) + " info --count '" + path + "'");
    CHECK(r.status == 0);
    CHECK_THAT(r.output, Catch::Contains("\"frames\":" + std::to_string(n) + ","));
  }
  CHECK(previous > frames.size() * 9 / 10);  // 99 % of the file holds most frames
}

TEST_CASE("hostile corpus: a corrupted packet mid-stream is skipped and counted, and the stream goes on", "[io][videos][corpus]") {
  VideoReader clean(lt::video("vtest_h264.mp4"), {.threads = 1});
  std::vector<at::Tensor> frames;
  while (auto f = clean.next()) frames.push_back(f->rgb);
  REQUIRE(frames.size() == 795);
  for (const char* name : {"corrupt_keyframe.mp4", "corrupt_frame.mp4"}) {
    const auto path = hostile(name);
    INFO(path);
    VideoReader reader(path, {.threads = 1});
    std::int64_t n = 0, last = -1, equal_before = 0;
    while (auto f = reader.next()) {
      CHECK(f->index > last);
      last = f->index;
      // Frames before the damaged GOP are untouched.
      if (f->index < 384 && at::equal(f->rgb, frames[static_cast<std::size_t>(f->index)])) ++equal_before;
      ++n;
    }
    CHECK(last == 794);    // the stream went on to its last frame
    CHECK(n >= 795 - 48);  // losing at most one GOP
    CHECK(equal_before == 384);
    CHECK(reader.stats().corrupt_packets > 0);
    CHECK(reader.stats().stopped_by.empty());
  }
  // Through a sampler: the clips go on past the damage; the telemetry counts it.
  auto telemetry = std::make_shared<longform::Telemetry>();
  longform::ClipContext ctx(longform::VideoList({hostile("corrupt_keyframe.mp4")}, {.threads = 1, .width = 32, .height = 32}),
                            {.telemetry = telemetry});
  longform::SequentialSampler<longform::Frames<2>, longform::Stride<8>> sampler({.epochs = 1});
  std::int64_t last_frame = 0, clips = 0;
  while (auto clip = sampler.next(ctx)) {
    last_frame = clip->frames.back();
    ++clips;
  }
  CHECK(clips >= 45);
  CHECK(last_frame > 780);
  CHECK(telemetry->corrupt_packets > 0);
  CHECK(telemetry->videos_skipped == 0);
}

TEST_CASE("hostile corpus: frame indices after a frame the decoder dropped are those of the clean file", "[io][videos][corpus]") {
  // Regression: indices used to count decoded frames, so every frame after a dropped one was off by one.
  std::map<std::int64_t, std::int64_t> clean;  // PTS -> index
  VideoReader reader(lt::video("vtest_h264.mp4"));
  while (auto f = reader.next()) clean.emplace(f->pts, f->index);
  VideoReader forward(hostile("corrupt_frame.mp4"));  // no frame index built: indices from the packets fed
  VideoReader indexed(hostile("corrupt_frame.mp4"));
  REQUIRE(indexed.frame_count() == 795);  // the index counts the damaged frame's packet
  std::int64_t n = 0;
  while (auto f = forward.next()) {
    auto g = indexed.next();
    REQUIRE(g);
    REQUIRE(f->index == clean.at(f->pts));
    REQUIRE(g->index == f->index);
    ++n;
  }
  CHECK(n == 794);
}

TEST_CASE("hostile corpus: odd but valid videos decode: VFR, 1x1 frames", "[io][videos][corpus]") {
  const auto vfr = hostile("vfr.mkv");
  CHECK(static_cast<std::int64_t>(indices_of(vfr).size()) == std::stoll(lt::probe(vfr, "stream=nb_read_frames", "-count_frames")));
  VideoReader tiny(hostile("tiny_1x1.mkv"));
  CHECK(tiny.info().width == 1);
  CHECK(tiny.info().height == 1);
  std::int64_t n = 0;
  while (auto f = tiny.next()) {
    CHECK((f->rgb.sizes() == at::IntArrayRef{1, 1, 3}));
    ++n;
  }
  CHECK(n == 10);
  VideoReader scaled(hostile("tiny_1x1.mkv"), {.width = 16, .height = 16});
  CHECK((scaled.next()->rgb.sizes() == at::IntArrayRef{16, 16, 3}));
}

TEST_CASE("hostile corpus: a huge declared frame size is refused above max_pixels, and a missing body ends the stream", "[io][videos][corpus]") {
  const auto path = hostile("declared_8192x8192.y4m");
  try {
    VideoReader reader(path, {.max_pixels = 4096 * 4096});
    FAIL("8192x8192 accepted under a 4096x4096 limit");
  } catch (const longform::decode_error& e) {
    CHECK(e.path() == path);
    CHECK_THAT(e.what(), Catch::Contains("8192x8192"));
  }
  // Within the default limit it opens; the frame's bytes are not there, so no frame comes.
  VideoReader reader(path);
  CHECK(reader.info().width == 8192);
  CHECK_FALSE(reader.next());
}

TEST_CASE("hostile corpus: a pipe closed mid-stream gives the frames that came, and the CLI exits 0", "[io][videos][corpus]") {
  const auto ts = hostile("stream.ts");
  const auto half = std::filesystem::file_size(ts) / 2;
  const auto r = lt::run("head -c " + std::to_string(half) + " '" + ts + "' | " + LONGFORM_CLI + " info --count -");
  CHECK(r.status == 0);
  const auto at = r.output.find("\"frames\":");
  REQUIRE(at != std::string::npos);
  const auto frames = std::stoll(r.output.substr(at + 9));
  CHECK(frames > 200);
  CHECK(frames < 795);
}

TEST_CASE("hostile corpus: a list naming missing videos is sampled from its good ones, the bad ones skipped and recorded", "[io][videos][corpus]") {
  const auto list = hostile("list_with_missing.txt");
  const auto source = longform::VideoList::from_file(list, {.threads = 1, .width = 32, .height = 32});
  REQUIRE(source.size() == 5);
  const std::vector<std::string> bad{source.name(1), source.name(2), source.name(4)};

  auto sample_all = [&](auto sampler, const std::shared_ptr<longform::Telemetry>& telemetry) {
    longform::ClipContext ctx(source, {.telemetry = telemetry});
    std::vector<std::size_t> videos;
    while (auto clip = sampler.next(ctx)) videos.push_back(clip->video);
    return videos;
  };
  for (int random = 0; random < 2; ++random) {
    INFO((random ? "random" : "sequential"));
    auto telemetry = std::make_shared<longform::Telemetry>();
    const auto videos =
        random ? sample_all(longform::RandomSampler<longform::SegmentSeconds<10>, longform::Frames<2>, longform::Stride<4>>({.epochs = 1}), telemetry)
               : sample_all(longform::SequentialSampler<longform::Frames<2>, longform::Stride<16>>({.epochs = 1}), telemetry);
    CHECK(std::count(videos.begin(), videos.end(), 0) > 0);
    CHECK(std::count(videos.begin(), videos.end(), 3) > 0);
    CHECK(std::all_of(videos.begin(), videos.end(), [](std::size_t v) { return v == 0 || v == 3; }));
    CHECK(telemetry->videos_skipped == 3);
    auto skipped = telemetry->skipped();
    REQUIRE(skipped.size() == 3);
    std::vector<std::string> names;
    for (const auto& s : skipped) {
      CHECK_THAT(s.error, Catch::Contains(s.video));
      names.push_back(s.video);
    }
    std::sort(names.begin(), names.end());
    auto expected = bad;
    std::sort(expected.begin(), expected.end());
    CHECK(names == expected);
  }

  // Skipping off: the first failure propagates.
  longform::ClipContext strict(source, {.skip_bad_videos = false});
  longform::SequentialSampler<longform::Frames<2>, longform::Stride<16>> sampler({.epochs = 1});
  CHECK_THROWS_AS(
      [&] {
        while (sampler.next(strict)) {
        }
      }(),
      longform::open_error);
  // Every video bad: the last failure propagates, naming it.
  longform::ClipContext hopeless(longform::VideoList(bad), {});
  longform::SequentialSampler<longform::Frames<2>> none({.epochs = 1});
  CHECK_THROWS_AS(none.next(hopeless), longform::open_error);
}

TEST_CASE("hostile corpus: longform pretrain survives bad videos in its list and names them at the end", "[io][videos][corpus][slow]") {
  const auto out = lt::scratch("pretrain-bad-videos");
  const auto r = lt::run(std::string(LONGFORM_CLI) + " pretrain --videos '" + hostile("list_with_missing.txt") +
                         "' --method moco --arch x3d_xs --frames 2 --stride 100 --size 32 --batch 2 --steps 8 --queue-size 8 "
                         "--threads 2 --out '" +
                         out.string() + "'");
  INFO(r.output);
  REQUIRE(r.status == 3);  // done, some inputs skipped (README, "Bad input")
  CHECK_THAT(r.output, Catch::Contains("\"steps\":8,"));
  for (const char* name : {"missing_a.mp4", "noise.mkv", "missing_b.mkv"}) {
    CHECK_THAT(r.output, Catch::Contains(std::string("longform: skipped ")) && Catch::Contains(name));
  }
  const auto json_at = r.output.find("\"skipped\":[");
  REQUIRE(json_at != std::string::npos);
  const auto list = r.output.substr(json_at, r.output.find(']', json_at) - json_at);
  CHECK_THAT(list, Catch::Contains("missing_a.mp4") && Catch::Contains("noise.mkv") && Catch::Contains("missing_b.mkv"));
}
