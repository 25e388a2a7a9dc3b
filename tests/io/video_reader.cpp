// SPDX-License-Identifier: MIT
// VideoReader against ffprobe/ffmpeg on real footage: counts, per-frame MD5, exact seeks,
// metadata, a pipe cut mid-stream, memory input. Hostile inputs: hostile.cpp.
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <ATen/ops/equal.h>

#include <longform/io/video_reader.hpp>

#include "../support.hpp"
#include "../catch.hpp"

using longform::VideoReader;
namespace lt = longform::test;

namespace {

// Every real video the tests use: native codecs (AVI, MOV) and H.264 with B-frames, one VFR.
const char* const kVideos[] = {"vtest.avi", "tree.avi", "diver.mov", "vtest_h264.mp4", "diver_h264.mp4", "tree_h264.mp4", "vfr_h264.mkv"};

std::vector<at::Tensor> decode_all(VideoReader& reader) {
  std::vector<at::Tensor> out;
  while (auto f = reader.next()) out.push_back(f->rgb);
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("frame count and every frame's MD5 equal ffmpeg's", "[io][videos]") {
  for (const char* name : kVideos) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader reader(path, {.threads = 2});
    std::vector<std::string> ours;
    std::int64_t expected_index = 0;
    while (auto f = reader.next()) {
      CHECK(f->index == expected_index++);
      REQUIRE((f->rgb.sizes() == at::IntArrayRef{reader.info().height, reader.info().width, 3}));
      ours.push_back(lt::md5_hex(f->rgb));
    }
    const auto counted = std::stoll(lt::probe(path, "stream=nb_read_frames", "-count_frames"));
    CHECK(static_cast<std::int64_t>(ours.size()) == counted);
    const auto reference = lt::ffmpeg_framemd5(path);
    REQUIRE(ours.size() == reference.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) mismatches += ours[i] != reference[i];
    CHECK(mismatches == 0);
    CHECK(reader.stats().stopped_by.empty());
    CHECK(reader.stats().corrupt_packets == 0);
  }
}

TEST_CASE("metadata matches ffprobe", "[io][videos]") {
  for (const char* name : kVideos) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader reader(path);
    const auto& info = reader.info();
    CHECK(info.width == std::stoll(lt::probe(path, "stream=width")));
    CHECK(info.height == std::stoll(lt::probe(path, "stream=height")));
    CHECK(info.codec == lt::probe(path, "stream=codec_name"));
    CHECK(std::to_string(info.fps.num) + "/" + std::to_string(info.fps.den) == lt::probe(path, "stream=avg_frame_rate"));
    CHECK(std::to_string(info.time_base.num) + "/" + std::to_string(info.time_base.den) == lt::probe(path, "stream=time_base"));
    const auto stream_duration = lt::probe(path, "stream=duration");
    const double duration = std::stod(stream_duration != "N/A" ? stream_duration : lt::probe(path, "format=duration"));
    CHECK(info.duration == Approx(duration).margin(1e-3));
    // The exact count from the PTS index equals ffprobe's decoded count.
    CHECK(reader.frame_count() == std::stoll(lt::probe(path, "stream=nb_read_frames", "-count_frames")));
  }
}

TEST_CASE("PTS of decoded frames equal ffprobe's frame timestamps", "[io][videos]") {
  for (const char* name : {"vtest_h264.mp4", "vfr_h264.mkv", "diver.mov"}) {
    const auto path = lt::video(name);
    INFO(path);
    std::vector<std::string> expected;
    for (auto line : lt::lines_of("ffprobe -v error -select_streams v:0 -show_entries frame=best_effort_timestamp "
                                  "-of compact=p=0:nk=1 '" +
                                  path + "'")) {
      line = line.substr(0, line.find('|'));
      if (!line.empty()) expected.push_back(line);
    }
    VideoReader reader(path);
    std::size_t i = 0;
    while (auto f = reader.next()) {
      REQUIRE(i < expected.size());
      CHECK(f->pts == std::stoll(expected[i++]));
    }
    CHECK(i == expected.size());
  }
}

TEST_CASE("frame k reached by seeking equals frame k reached by decoding forward", "[io][videos]") {
  for (const char* name : kVideos) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader forward(path);
    const auto all = decode_all(forward);
    const auto n = static_cast<std::int64_t>(all.size());
    VideoReader seeker(path);
    // Near the start, mid-GOP, on and around keyframes, near the end; in a shuffled order.
    std::vector<std::int64_t> ks = {0, 1, 7, 13, n / 3, n / 2, n / 2 + 1, 2 * n / 3, n - 3, n - 2, n - 1, 5};
    std::shuffle(ks.begin(), ks.end(), std::mt19937(42));
    for (auto k : ks) {
      INFO("k = " << k);
      seeker.seek_frame(k);
      auto f = seeker.next();
      REQUIRE(f);
      CHECK(f->index == k);
      CHECK(at::equal(f->rgb, all[static_cast<std::size_t>(k)]));
      if (k + 1 < n) {  // decoding goes on from there
        auto g = seeker.next();
        REQUIRE(g);
        CHECK(g->index == k + 1);
        CHECK(at::equal(g->rgb, all[static_cast<std::size_t>(k + 1)]));
      }
    }
    CHECK_THROWS_AS(seeker.seek_frame(n), longform::decode_error);
    CHECK_THROWS_AS(seeker.seek_frame(-1), longform::decode_error);
  }
}

TEST_CASE("seek_time lands on the first frame at or after the time", "[io][videos]") {
  for (const char* name : {"vtest_h264.mp4", "vfr_h264.mkv", "vtest.avi"}) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader reader(path);
    std::vector<double> times;
    while (auto f = reader.next()) times.push_back(f->seconds);
    for (double t : {0.0, 3.3, times[times.size() / 2], times.back() - 0.05}) {
      reader.seek_time(t);
      auto f = reader.next();
      REQUIRE(f);
      const auto expected = std::lower_bound(times.begin(), times.end(), t - 1e-9) - times.begin();
      CHECK(f->index == expected);
      CHECK(f->seconds >= t - 1e-9);
    }
    reader.seek_time(times.back() + 10);
    CHECK_FALSE(reader.next());
  }
}

TEST_CASE("building the index mid-stream keeps the position", "[io][videos]") {
  VideoReader reader(lt::video("vtest_h264.mp4"));
  for (int i = 0; i < 10; ++i) reader.next();
  REQUIRE(reader.frame_count() == 795);
  auto f = reader.next();
  REQUIRE(f);
  CHECK(f->index == 10);
}

TEST_CASE("scaling during decode gives the requested size", "[io][videos]") {
  VideoReader both(lt::video("vtest_h264.mp4"), {.width = 224, .height = 224});
  CHECK((both.next()->rgb.sizes() == at::IntArrayRef{224, 224, 3}));
  VideoReader keep_aspect(lt::video("vtest_h264.mp4"), {.height = 144});  // 768x576 -> 192x144
  CHECK((keep_aspect.next()->rgb.sizes() == at::IntArrayRef{144, 192, 3}));
}

TEST_CASE("a stream cut mid-video yields the frames that decoded, then ends cleanly", "[io][videos]") {
  const auto dir = lt::scratch("cut-stream");
  const auto ts = (dir / "vtest.ts").string();
  REQUIRE(lt::run("ffmpeg -nostdin -v error -y -i '" + lt::video("vtest_h264.mp4") + "' -c copy -f mpegts '" + ts + "'").status == 0);
  const auto bytes = read_bytes(ts);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::thread writer([&] {  // half the stream, then the pipe closes
    std::size_t off = 0, half = bytes.size() / 2;
    while (off < half) {
      auto n = ::write(fds[1], bytes.data() + off, half - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
  });
  std::int64_t n = 0;
  {
    VideoReader reader("pipe:" + std::to_string(fds[0]));
    CHECK_FALSE(reader.seekable());
    while (auto f = reader.next()) CHECK(f->index == n++);
    CHECK_THROWS_AS(reader.seek_frame(0), longform::decode_error);
  }
  writer.join();
  ::close(fds[0]);
  CHECK(n > 200);
  CHECK(n < 795);
}

TEST_CASE("a video in memory decodes and seeks like the file", "[io][videos]") {
  const auto path = lt::video("vtest_h264.mp4");
  const auto bytes = read_bytes(path);
  auto reader = VideoReader::from_memory({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, "in-memory");
  VideoReader file(path);
  std::int64_t n = 0;
  while (auto f = reader.next()) {
    auto g = file.next();
    REQUIRE(g);
    CHECK(at::equal(f->rgb, g->rgb));
    ++n;
  }
  CHECK(n == 795);
  reader.seek_frame(400);
  file.seek_frame(400);
  CHECK(at::equal(reader.next()->rgb, file.next()->rgb));
  const std::string junk = "definitely not a video";
  CHECK_THROWS_WITH(VideoReader::from_memory({reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()}, "junk bytes"),
                    Catch::Contains("junk bytes"));
}

TEST_CASE("frames larger than max_pixels are refused with a typed error", "[io][videos]") {
  try {
    VideoReader reader(lt::video("vtest_h264.mp4"), {.max_pixels = 640 * 480});
    FAIL("768x576 accepted under a 640x480 limit");
  } catch (const longform::decode_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("768x576"));
  }
}

TEST_CASE("skip_to reads every 4th frame exactly while decoding fewer frames", "[io][videos]") {
  for (const char* name : {"vtest_h264.mp4", "diver_h264.mp4", "vfr_h264.mkv", "vtest.avi"}) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader all(path);
    const auto frames = decode_all(all);
    VideoReader strided(path, {.threads = 1});  // frame threads decode ahead of the skip decision
    std::int64_t n = 0;
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(frames.size()); k += 4, ++n) {
      strided.skip_to(k);
      auto f = strided.next();
      REQUIRE(f);
      CHECK(f->index == k);
      CHECK(at::equal(f->rgb, frames[static_cast<std::size_t>(k)]));
    }
    strided.skip_to(static_cast<std::int64_t>(frames.size()));
    CHECK_FALSE(strided.next());
    CHECK(strided.stats().frames <= all.stats().frames);
    // vtest_h264 has many non-reference B-frames (476 B of 795), which need no decoding.
    if (std::string(name) == "vtest_h264.mp4") CHECK(strided.stats().frames < all.stats().frames * 8 / 10);
    UNSCOPED_INFO(name << ": decoded " << strided.stats().frames << " of " << all.stats().frames);
  }
}

TEST_CASE("narrow frames whose rows swscale writes past decode exactly (40 pixels wide)", "[io][videos]") {
  // swscale's vector stores overrun a 40-pixel RGB row by up to 16 bytes; under ASan a frame
  // buffer without slack fails here.
  const auto path = lt::scratch("narrow") / "w40.mp4";
  REQUIRE(lt::run("ffmpeg -nostdin -v error -y -i '" + lt::video("vtest_h264.mp4") +
                  "' -frames:v 6 -vf scale=40:32 -c:v libx264 -preset ultrafast -pix_fmt yuv420p '" + path.string() + "'")
              .status == 0);
  VideoReader reader(path.string());
  const auto reference = lt::ffmpeg_framemd5(path.string());
  std::size_t n = 0;
  while (auto f = reader.next()) {
    REQUIRE(n < reference.size());
    CHECK((f->rgb.sizes() == at::IntArrayRef{32, 40, 3}));
    CHECK(lt::md5_hex(f->rgb) == reference[n++]);
  }
  CHECK(n == reference.size());
}
