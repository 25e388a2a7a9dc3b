// SPDX-License-Identifier: MIT
// Random access is exact on every container and GOP structure of the seek corpus
// (tests/data/make-seek-corpus): each seek_frame(k) and skip_to(k) returns, bit for bit, frame k
// of one sequential decode, with no damage concealed along the way. Also the display matrix.
#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include <longform/io/video_reader.hpp>

#include "../support.hpp"
#include "../catch.hpp"

using longform::VideoReader;
namespace lt = longform::test;

namespace {

std::string corpus(const std::string& name) { return (std::filesystem::path(LONGFORM_SEEK_CORPUS_DIR) / name).string(); }

// Every file of the corpus: H.264 remuxed into MP4, MKV and MPEG-TS; long open GOPs; MPEG-2 open
// GOPs in MPEG-PS, MPEG-TS and MKV; a rotated file; VFR in MKV and MPEG-TS.
const char* const kCorpus[] = {"tree.mp4",   "tree.mkv",       "tree.ts",   "diver.mp4", "diver.mkv", "diver.ts",    "longgop.mp4", "longgop.mkv",
                               "longgop.ts", "longgop444.mp4", "mpeg2.mpg", "mpeg2.ts",  "mpeg2.mkv", "rotated.mp4", "vfr.mkv",     "vfr.ts"};

struct Decoded {
  std::vector<std::string> md5;
  std::vector<std::int64_t> pts;
};

Decoded decode_sequentially(const std::string& path) {
  VideoReader reader(path, {.threads = 2});
  Decoded d;
  while (auto f = reader.next()) {
    REQUIRE(f->index == static_cast<std::int64_t>(d.md5.size()));
    d.md5.push_back(lt::md5_hex(f->rgb));
    d.pts.push_back(f->pts);
  }
  CHECK(reader.stats().concealed_frames == 0);
  CHECK(reader.stats().corrupt_packets == 0);
  return d;
}

// First, last, keyframes (up to 12, spread) and their neighbours, and random frames: rising.
std::vector<std::int64_t> targets(VideoReader& reader, std::uint32_t seed) {
  const std::int64_t n = reader.frame_count();
  std::set<std::int64_t> ks{0, 1, n - 2, n - 1};
  const auto& keys = reader.keyframes();
  const std::size_t step = std::max<std::size_t>(1, keys.size() / 12);
  for (std::size_t i = 0; i < keys.size(); i += step) ks.insert({keys[i] - 1, keys[i], keys[i] + 1});
  std::mt19937 rng(seed);
  for (int i = 0; i < 12; ++i) ks.insert(std::uniform_int_distribution<std::int64_t>(0, n - 1)(rng));
  std::vector<std::int64_t> out;
  std::copy_if(ks.begin(), ks.end(), std::back_inserter(out), [&](std::int64_t k) { return k >= 0 && k < n; });
  return out;
}

}  // namespace

TEST_CASE("frame count covers every packet on every container", "[io][videos][seek]") {
  for (const char* name : kCorpus) {
    const auto path = corpus(name);
    INFO(path);
    VideoReader reader(path);
    CHECK(reader.frame_count() == std::stoll(lt::probe(path, "stream=nb_read_frames", "-count_frames")));
  }
}

TEST_CASE("seek_frame and skip_to equal sequential decoding bit for bit on every container and GOP", "[io][videos][seek]") {
  for (const char* name : kCorpus) {
    const auto path = corpus(name);
    INFO(path);
    const Decoded all = decode_sequentially(path);
    REQUIRE(!all.md5.empty());

    VideoReader seeking(path, {.threads = 2});
    REQUIRE(seeking.frame_count() == static_cast<std::int64_t>(all.md5.size()));
    auto ks = targets(seeking, 7);
    // Backward and forward seeks, in a fixed shuffled order.
    std::shuffle(ks.begin(), ks.end(), std::mt19937(11));
    // Positions `reader` at frame k with `go`, reads one frame: is it frame k of the sequential decode?
    auto count_wrong = [&](VideoReader& reader, auto go, const char* how) {
      std::size_t wrong = 0;
      for (const std::int64_t k : ks) {
        go(reader, k);
        const auto f = reader.next();
        REQUIRE(f);
        const auto i = static_cast<std::size_t>(k);
        const bool exact = f->index == k && f->pts == all.pts[i] && lt::md5_hex(f->rgb) == all.md5[i];
        if (!exact) UNSCOPED_INFO(how << "(" << k << ") with " << reader.options().threads << " threads gave index " << f->index);
        wrong += !exact;
      }
      return wrong;
    };
    CHECK(count_wrong(seeking, [](VideoReader& r, std::int64_t k) { r.seek_frame(k); }, "seek_frame") == 0);
    CHECK(seeking.stats().seek_fallbacks == 0);  // every first attempt was exact
    CHECK(seeking.stats().concealed_frames == 0);
    CHECK(seeking.stats().corrupt_packets == 0);

    // skip_to on fresh readers, one and several decoder threads, every target in turn.
    for (const int threads : {1, 2}) {
      VideoReader skipping(path, {.threads = threads});
      std::sort(ks.begin(), ks.end());
      CHECK(count_wrong(skipping, [](VideoReader& r, std::int64_t k) { r.skip_to(k); }, "skip_to") == 0);
      CHECK(skipping.stats().concealed_frames == 0);
      CHECK(skipping.stats().corrupt_packets == 0);
      CHECK(skipping.stats().frames <= 2 * static_cast<std::int64_t>(all.md5.size()));
    }
  }
}

TEST_CASE("skip_to seeks past keyframes instead of decoding up to them, exactly", "[io][videos][seek]") {
  for (const char* name : {"tree.ts", "mpeg2.mpg", "vfr.mkv", "diver.mp4"}) {
    const auto path = corpus(name);
    INFO(path);
    const Decoded all = decode_sequentially(path);
    const auto n = static_cast<std::int64_t>(all.md5.size());
    VideoReader reader(path, {.threads = 1});
    for (const std::int64_t k : {n / 3, n / 2, n - 1}) {
      reader.skip_to(k);
      const auto f = reader.next();
      REQUIRE(f);
      CHECK(f->index == k);
      CHECK(lt::md5_hex(f->rgb) == all.md5[static_cast<std::size_t>(k)]);
    }
    CHECK(reader.stats().seeks > 0);
    CHECK(reader.stats().frames < n / 2);
    CHECK(reader.stats().concealed_frames == 0);
  }
}

TEST_CASE("skip_to(0) on a fresh reader returns the first frame", "[io][videos][seek]") {
  for (const char* name : kCorpus) {
    INFO(name);
    VideoReader reader(corpus(name));
    reader.skip_to(0);
    const auto f = reader.next();
    REQUIRE(f);
    CHECK(f->index == 0);
  }
}

TEST_CASE("rotation metadata is honoured as ffmpeg does, or kept coded on request", "[io][videos][seek]") {
  const auto path = corpus("rotated.mp4");
  VideoReader turned(path);
  // ffprobe gives the display matrix's counterclockwise angle; `rotation` is the clockwise turn.
  const int counterclockwise = std::stoi(lt::probe(path, "stream_side_data=rotation"));
  CHECK(counterclockwise != 0);
  CHECK(turned.info().rotation == (360 - counterclockwise) % 360);
  CHECK(turned.info().coded_width == 320);
  CHECK(turned.info().coded_height == 240);
  CHECK(turned.info().width == 240);
  CHECK(turned.info().height == 320);
  VideoReader coded(path, {.autorotate = false});
  CHECK(coded.info().width == 320);
  CHECK(coded.info().height == 240);
  for (auto [reader, options] : {std::pair{&turned, ""}, std::pair{&coded, "-noautorotate"}}) {
    INFO(options);
    const auto reference = lt::ffmpeg_framemd5(path, options);
    std::size_t n = 0, mismatches = 0;
    while (auto f = reader->next()) {
      REQUIRE(n < reference.size());
      CHECK((f->rgb.sizes() == at::IntArrayRef{reader->info().height, reader->info().width, 3}));
      mismatches += lt::md5_hex(f->rgb) != reference[n++];
    }
    CHECK(n == reference.size());
    CHECK(mismatches == 0);
  }
  // Scaling targets the displayed orientation: short side 120 of a portrait 240x320 picture.
  VideoReader scaled(path, {.short_side = 120});
  const auto f = scaled.next();
  REQUIRE(f);
  CHECK((f->rgb.sizes() == at::IntArrayRef{160, 120, 3}));
}
