// SPDX-License-Identifier: MIT
// Sources: lists, shards, the AVA window, streams and synthetic videos.
#include <fstream>
#include <set>

#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>

#include <longform/io/video_writer.hpp>
#include <longform/source.hpp>

#include "../support.hpp"
#include "../catch.hpp"

namespace lt = longform::test;
namespace fs = std::filesystem;

TEST_CASE("VideoList scans a directory in sorted order and shards it disjointly", "[source]") {
  const auto dir = lt::scratch("list");
  for (const char* name : {"c.mp4", "a.MKV", "b.avi", "notes.txt", "sub/d.mov"}) {
    fs::create_directories((dir / name).parent_path());
    std::ofstream(dir / name) << "x";
  }
  auto list = longform::VideoList::from_directory(dir);
  REQUIRE(list.size() == 4);
  CHECK(fs::path(list.name(0)).filename() == "a.MKV");
  CHECK(fs::path(list.name(3)).filename() == "d.mov");

  std::set<std::string> seen;
  for (std::size_t rank = 0; rank < 3; ++rank) {
    auto shard = list.shard(rank, 3);
    for (std::size_t i = 0; i < shard.size(); ++i) CHECK(seen.insert(shard.name(i)).second);
  }
  CHECK(seen.size() == list.size());
  CHECK_THROWS_AS(list.shard(3, 3), longform::config_error);
  CHECK_THROWS_AS(list.shard(0, 5).shard(1, 1), longform::config_error);
  CHECK_THROWS_AS(longform::VideoList::from_directory(dir / "sub" / "d.mov"), longform::config_error);
}

TEST_CASE("VideoList reads a list file relative to its folder", "[source]") {
  const auto dir = lt::scratch("listfile");
  std::ofstream(dir / "videos.txt") << "# AVA-style list\n\nclips/one.mp4\n  /abs/two.mkv  \n";
  auto list = longform::VideoList::from_file(dir / "videos.txt");
  REQUIRE(list.size() == 2);
  CHECK(list.name(0) == (dir / "clips/one.mp4").string());
  CHECK(list.name(1) == "/abs/two.mkv");
  // A named video that does not exist fails when opened, naming it.
  CHECK_THROWS_WITH(list.open(0), Catch::Contains("clips/one.mp4"));
  try {
    longform::VideoList::from_file(dir / "absent.txt");
    FAIL();
  } catch (const longform::config_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("absent.txt"));
  }
  std::ofstream(dir / "empty.txt") << "# nothing\n";
  CHECK_THROWS_AS(longform::VideoList::from_file(dir / "empty.txt"), longform::config_error);
}

TEST_CASE("AvaVideos reads only the 900-1800 s window of each movie", "[source]") {
  const auto dir = lt::scratch("ava");
  // A 31-minute movie at 1 fps, small: each frame's brightness encodes its second.
  {
    longform::VideoWriter writer((dir / "movie1.mkv").string(), {.width = 32, .height = 32, .fps = {1, 1}, .gop = 60});
    for (int s = 0; s < 1860; ++s) writer.write(at::full({32, 32, 3}, (s / 10) % 200, at::kByte));
  }
  std::ofstream(dir / "ava_file_names.txt") << "movie1.mkv\n";
  longform::AvaVideos ava(dir / "ava_file_names.txt", dir);
  REQUIRE(ava.size() == 1);
  auto reader = ava.open(0);
  CHECK(reader.frame_count() == 900);
  std::int64_t n = 0;
  double first = -1, last = -1;
  while (auto f = reader.next()) {
    CHECK(f->index == n++);
    if (first < 0) first = f->seconds;
    last = f->seconds;
  }
  CHECK(n == 900);
  CHECK(first == Approx(900));
  CHECK(last == Approx(1799));
  reader.seek_frame(450);
  auto f = reader.next();
  REQUIRE(f);
  CHECK(f->index == 450);
  CHECK(f->seconds == Approx(1350));
  CHECK(f->rgb[0][0][0].item<int>() == Approx(135).margin(3));

  CHECK_THROWS_AS(longform::AvaVideos(dir / "missing-list.txt", dir), longform::config_error);
  CHECK_THROWS_AS(longform::AvaVideos(dir / "ava_file_names.txt", dir / "nope"), longform::config_error);
}

TEST_CASE("a time window on real footage counts from the window's first frame", "[source][videos]") {
  longform::WindowedReader reader(longform::VideoReader(lt::video("vtest_h264.mp4")), {.begin = 10, .end = 20});
  CHECK(reader.frame_count() == 100);  // 10 fps
  std::int64_t n = 0;
  while (auto f = reader.next()) {
    CHECK(f->index == n++);
    CHECK(f->seconds >= 10 - 1e-9);
    CHECK(f->seconds < 20);
  }
  CHECK(n == 100);
}

TEST_CASE("SyntheticVideo is deterministic, distinct per video and seekable", "[source]") {
  longform::SyntheticVideo a({.seed = 5, .videos = 2, .frames = 30}), b({.seed = 5, .videos = 2, .frames = 30});
  auto ra = a.open(0), rb = b.open(0), other = a.open(1);
  std::vector<at::Tensor> frames;
  while (auto f = ra.next()) {
    auto g = rb.next();
    REQUIRE(g);
    CHECK(at::equal(f->rgb, g->rgb));
    frames.push_back(f->rgb);
  }
  CHECK(frames.size() == 30);
  CHECK_FALSE(at::equal(frames[0], other.next()->rgb));
  CHECK_FALSE(at::equal(frames[0], frames[10]));  // things move
  ra.seek_frame(17);
  CHECK(at::equal(ra.next()->rgb, frames[17]));
  CHECK_THROWS_AS(ra.seek_frame(30), longform::decode_error);
  CHECK_THROWS_AS(longform::SyntheticVideo({.frames = 0}), longform::config_error);
}

TEST_CASE("Stream reads a forward-only pipe", "[source][videos]") {
  const auto dir = lt::scratch("stream");
  const auto ts = (dir / "tree.ts").string();
  REQUIRE(lt::run("ffmpeg -nostdin -v error -y -i '" + lt::video("tree_h264.mp4") + "' -c copy -f mpegts '" + ts + "'").status == 0);
  // Standard input of a child process: the CLI reads "-" through Stream's URL handling.
  auto r = lt::run("cat '" + ts + "' | " + std::string(LONGFORM_CLI) + " info --count -");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("\"frames\":449"));
  longform::Stream stream("pipe:0");
  CHECK(stream.size() == 1);
  CHECK(stream.name(0) == "pipe:0");
}
