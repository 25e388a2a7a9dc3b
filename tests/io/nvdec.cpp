// SPDX-License-Identifier: MIT
// GPU decoding (`ReaderOptions::device = "cuda"`, NVDEC through FFmpeg's CUDA hwaccel).
//
// Cases tagged [cuda] compare GPU and CPU decoding of real footage: the planes bit for bit (H.264
// decoding is exact), the RGB frames within the stated tolerance, indices, seeks and skip_to frame
// for frame. Without GPU decoding (no GPU, no NVDEC library, FFmpeg without CUDA) they pass with a
// warning saying what is missing. The other cases run on any machine: asking for CUDA where it
// cannot run gives the typed error naming the input, and the GPU path's colour conversion,
// computed on the CPU from the CPU decoder's planes, is checked against swscale (the tolerance
// the [cuda] cases then hold the GPU to).
//
// Tolerances, per 8-bit channel, against the CPU path's swscale RGB:
//   native size, limited range: max |diff| <= 2, mean |diff| <= 0.5
//   native size, full range: max |diff| <= 12, mean |diff| <= 1.5
//   resized (short_side): mean |diff| <= 2.5 (antialiased bicubic against swscale's bicubic)
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ops/abs.h>
#include <ATen/ops/equal.h>

#include <longform/io/video_reader.hpp>

#include "../support.hpp"
#include "../catch.hpp"

using longform::VideoReader;
namespace lt = longform::test;
namespace fs = std::filesystem;

namespace {

constexpr double native_max = 2, native_mean = 0.5, resized_mean = 2.5;
// Full range at native size: swscale takes another converter there.
constexpr double full_range_max = 12, full_range_mean = 1.5;

// H.264 footage: 4:2:0, BT.601 tagged (diver) and untagged (read as BT.601), three sizes.
const char* const kH264[] = {"tree_h264.mp4", "diver_h264.mp4", "vtest_h264.mp4"};

// GPU cases return early, with a warning that names what is missing, where GPU decoding cannot run.
bool have_nvdec() {
  if (auto why = VideoReader::device_unavailable("cuda")) {
    WARN("skipped: GPU decoding unavailable: " << *why);
    return false;
  }
  return true;
}

struct Difference {
  double max = 0, mean = 0;
};

Difference difference(const at::Tensor& a, const at::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  const at::Tensor d = at::abs(a.cpu().to(at::kFloat).sub(b.cpu().to(at::kFloat)));
  return {d.max().item<double>(), d.mean().item<double>()};
}

// The stated tolerance: at native size by range (a `_pc` clip is full range); resized, the mean only.
void check_within_tolerance(const Difference& worst, const std::string& path, bool resized) {
  const bool full = path.find("_pc") != std::string::npos;
  if (resized) {
    CHECK(worst.mean <= resized_mean);
  } else {
    CHECK(worst.max <= (full ? full_range_max : native_max));
    CHECK(worst.mean <= (full ? full_range_mean : native_mean));
  }
}

std::string shell_arg(const fs::path& p) { return "'" + p.string() + "'"; }

// 30 frames of the tree footage re-encoded with a given colour matrix and range (tagged so).
fs::path colour_clip(const std::string& name, const std::string& matrix, const std::string& range) {
  const auto dir = fs::temp_directory_path() / "longform-test-nvdec";
  fs::create_directories(dir);
  const auto out = dir / name;
  if (fs::exists(out)) return out;
  const auto r = lt::run("ffmpeg -nostdin -v error -y -i " + shell_arg(lt::video("tree_h264.mp4")) +
                         " -frames:v 30 -vf scale=out_color_matrix=" + matrix + ":out_range=" + range + " -colorspace " + matrix + " -color_range " +
                         (range == "full" ? "pc" : "tv") + " -c:v libx264 -preset ultrafast -pix_fmt yuv420p " + shell_arg(out));
  REQUIRE(r.status == 0);
  return out;
}

// Every footage the colour checks use: the H.264 files and BT.709 clips, limited and full range.
std::vector<std::string> colour_inputs() {
  std::vector<std::string> inputs;
  for (const char* name : kH264) inputs.push_back(lt::video(name));
  inputs.push_back(colour_clip("bt709_tv.mp4", "bt709", "tv").string());
  inputs.push_back(colour_clip("bt709_pc.mp4", "bt709", "full").string());
  return inputs;
}

// The GPU path's conversion of planes (on their device), at the reader's output size.
at::Tensor convert(const longform::YuvPlanes& p, std::int64_t out_w, std::int64_t out_h, int turn = 0) {
  return longform::detail::yuv_to_rgb(p.y, p.u, p.v, p.bit_depth, p.colorspace, p.full_range, out_w, out_h, turn);
}

}  // namespace

TEST_CASE("asking for GPU decoding where it cannot run throws hardware_decode_error naming the input", "[io][nvdec][videos]") {
  const auto path = lt::video("tree_h264.mp4");
  const auto missing = VideoReader::device_unavailable("cuda");
  if (!missing) {
    WARN("GPU decoding is available here: the no-device error is not reachable");
    return;
  }
  try {
    VideoReader reader(path, {.device = "cuda"});
    FAIL("opened for GPU decoding without it");
  } catch (const longform::hardware_decode_error& e) {
    INFO(e.what());
    CHECK(e.path() == path);
    CHECK(std::string(e.what()).starts_with(path + ": "));
    CHECK(e.detail() == *missing);
    if (e.missing() == longform::hardware_missing::cuda_device) {
      CHECK(std::string(e.what()).find("no CUDA device") != std::string::npos);
    }
  }
  // A decode_error too: code that skips unreadable videos skips it.
  CHECK_THROWS_AS(VideoReader(path, {.device = "cuda:0"}), longform::decode_error);
}

TEST_CASE("ReaderOptions::device names cpu, cuda or cuda:N", "[io][nvdec][videos]") {
  const auto path = lt::video("tree_h264.mp4");
  CHECK_THROWS_AS(VideoReader(path, {.device = "gpu"}), longform::config_error);
  CHECK_THROWS_AS(VideoReader(path, {.device = "cuda:x"}), longform::config_error);
  CHECK_THROWS_AS(VideoReader::device_unavailable("cuda:"), longform::config_error);
  CHECK_FALSE(VideoReader::device_unavailable("cpu"));
  VideoReader cpu(path, {.device = "cpu"});
  const auto f = cpu.next();
  REQUIRE(f);
  CHECK(f->rgb.is_cpu());
}

TEST_CASE("next_planes gives the decoder's planes, with next()'s indices", "[io][nvdec][videos]") {
  const auto path = lt::video("diver_h264.mp4");
  VideoReader planes(path, {.threads = 2}), frames(path, {.threads = 2});
  for (int i = 0; i < 5; ++i) {
    const auto p = planes.next_planes();
    const auto f = frames.next();
    REQUIRE(p);
    REQUIRE(f);
    CHECK(p->index == f->index);
    CHECK(p->pts == f->pts);
    CHECK((p->y.sizes() == at::IntArrayRef{480, 640}));
    CHECK((p->u.sizes() == at::IntArrayRef{240, 320}));
    CHECK((p->v.sizes() == at::IntArrayRef{240, 320}));
    CHECK(p->y.scalar_type() == at::kByte);
    CHECK(p->colorspace == AVCOL_SPC_BT470BG);
    CHECK_FALSE(p->full_range);
  }
  // After a seek too (the sought frame is held converted and as planes).
  planes.seek_frame(100);
  frames.seek_frame(100);
  const auto p = planes.next_planes();
  const auto f = frames.next();
  REQUIRE(p);
  REQUIRE(f);
  CHECK(p->index == 100);
  CHECK(f->index == 100);
  const auto d = difference(convert(*p, 640, 480), f->rgb);
  CHECK(d.max <= native_max);
}

TEST_CASE("the GPU path's colour conversion is within tolerance of swscale (run on the CPU)", "[io][nvdec][videos]") {
  for (const auto& path : colour_inputs()) {
    for (const std::int64_t side : {std::int64_t{0}, std::int64_t{112}, std::int64_t{360}}) {
      INFO(path << " short_side " << side);
      VideoReader planes(path, {.threads = 2}), frames(path, {.threads = 2, .short_side = side});
      Difference worst;
      double mean = 0;
      int n = 0;
      while (auto f = frames.next()) {
        const auto p = planes.next_planes();
        REQUIRE(p);
        REQUIRE(p->index == f->index);
        const auto d = difference(convert(*p, f->rgb.size(1), f->rgb.size(0)), f->rgb);
        worst.max = std::max(worst.max, d.max);
        worst.mean = std::max(worst.mean, d.mean);
        mean += d.mean;
        if (++n == 40) break;
      }
      REQUIRE(n > 0);
      WARN("measured: max " << worst.max << ", worst frame mean " << worst.mean << ", mean " << mean / n);
      check_within_tolerance(worst, path, side > 0);
    }
  }
}

TEST_CASE("the GPU path's conversion turns frames as the display matrix says (run on the CPU)", "[io][nvdec][videos]") {
  const auto path = fs::path(LONGFORM_SEEK_CORPUS_DIR) / "rotated.mp4";
  VideoReader planes(path.string()), frames(path.string());
  const int turn = frames.info().rotation;
  REQUIRE(turn % 180 == 90);
  for (int i = 0; i < 5; ++i) {
    const auto p = planes.next_planes();
    const auto f = frames.next();
    REQUIRE(p);
    REQUIRE(f);
    // Coded 320x240, shown 240x320.
    const auto d = difference(convert(*p, p->y.size(1), p->y.size(0), turn), f->rgb);
    CHECK(d.max <= native_max);
  }
}

// ---- on the GPU ------------------------------------------------------------------------------

TEST_CASE("NVDEC planes equal the CPU decoder's bit for bit", "[io][nvdec][cuda][videos]") {
  if (!have_nvdec()) return;
  for (const char* name : kH264) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader cpu(path, {.threads = 2}), gpu(path, {.device = "cuda"});
    std::int64_t n = 0, unequal = 0;
    while (auto c = cpu.next_planes()) {
      const auto g = gpu.next_planes();
      REQUIRE(g);
      REQUIRE(g->y.is_cuda());
      REQUIRE(g->index == c->index);
      REQUIRE(g->pts == c->pts);
      CHECK(g->colorspace == c->colorspace);
      CHECK(g->full_range == c->full_range);
      unequal += !at::equal(g->y.cpu(), c->y) || !at::equal(g->u.cpu(), c->u) || !at::equal(g->v.cpu(), c->v);
      ++n;
    }
    CHECK_FALSE(gpu.next_planes());
    CHECK(n == cpu.frame_count());
    CHECK(unequal == 0);
  }
}

TEST_CASE("NVDEC RGB frames are CUDA uint8 [H, W, 3] within tolerance of the CPU path", "[io][nvdec][cuda][videos]") {
  if (!have_nvdec()) return;
  for (const auto& path : colour_inputs()) {
    for (const std::int64_t side : {std::int64_t{0}, std::int64_t{112}}) {
      INFO(path << " short_side " << side);
      VideoReader cpu(path, {.threads = 2, .short_side = side}), gpu(path, {.short_side = side, .device = "cuda"});
      Difference worst;
      while (auto c = cpu.next()) {
        const auto g = gpu.next();
        REQUIRE(g);
        REQUIRE(g->rgb.is_cuda());
        REQUIRE(g->rgb.scalar_type() == at::kByte);
        REQUIRE(g->rgb.is_contiguous());
        REQUIRE(g->index == c->index);
        REQUIRE(g->pts == c->pts);
        CHECK(g->seconds == c->seconds);
        const auto d = difference(g->rgb, c->rgb);
        worst.max = std::max(worst.max, d.max);
        worst.mean = std::max(worst.mean, d.mean);
      }
      CHECK_FALSE(gpu.next());
      UNSCOPED_INFO("max " << worst.max << ", worst frame mean " << worst.mean);
      check_within_tolerance(worst, path, side > 0);
    }
  }
  // A turned video: turned on the GPU as on the CPU.
  const auto rotated = (fs::path(LONGFORM_SEEK_CORPUS_DIR) / "rotated.mp4").string();
  VideoReader cpu(rotated), gpu(rotated, {.device = "cuda"});
  const auto c = cpu.next();
  const auto g = gpu.next();
  REQUIRE(c);
  REQUIRE(g);
  CHECK(difference(g->rgb, c->rgb).max <= native_max);
}

TEST_CASE("NVDEC seeks, skip_to and indices give the CPU decoder's frames", "[io][nvdec][cuda][videos]") {
  if (!have_nvdec()) return;
  const char* const inputs[] = {"vtest_h264.mp4", "vfr_h264.mkv"};
  for (const char* name : inputs) {
    const auto path = lt::video(name);
    INFO(path);
    VideoReader cpu(path, {.threads = 2}), gpu(path, {.device = "cuda"});
    REQUIRE(gpu.frame_timestamps() == cpu.frame_timestamps());
    REQUIRE(gpu.keyframes() == cpu.keyframes());
    const std::int64_t n = cpu.frame_count();
    // seek_frame, backwards and forwards, then a few frames on: planes bit for bit.
    for (const std::int64_t k : {n / 2, std::int64_t{3}, n - 1, n / 3, std::int64_t{0}, n / 2 + 7}) {
      INFO("seek_frame " << k);
      cpu.seek_frame(k);
      gpu.seek_frame(k);
      for (int i = 0; i < 3; ++i) {
        const auto c = cpu.next_planes();
        const auto g = gpu.next_planes();
        REQUIRE(bool(c) == bool(g));
        if (!c) break;
        CHECK(g->index == c->index);
        CHECK(g->pts == c->pts);
        CHECK(at::equal(g->y.cpu(), c->y));
        CHECK(at::equal(g->u.cpu(), c->u));
        CHECK(at::equal(g->v.cpu(), c->v));
      }
    }
    // seek_time and skip_to: the same frames, RGB within tolerance.
    cpu.seek_time(1.0);
    gpu.seek_time(1.0);
    for (const std::int64_t k : {std::int64_t{40}, std::int64_t{41}, std::int64_t{90}, n - 2}) {
      INFO("skip_to " << k);
      cpu.skip_to(k);
      gpu.skip_to(k);
      const auto c = cpu.next();
      const auto g = gpu.next();
      REQUIRE(bool(c) == bool(g));
      if (!c) continue;
      CHECK(g->index == c->index);
      CHECK(g->pts == c->pts);
      CHECK(difference(g->rgb, c->rgb).max <= native_max);
    }
    // skip() keeps the indices too.
    cpu.seek_frame(10);
    gpu.seek_frame(10);
    CHECK(gpu.skip() == cpu.skip());
    CHECK(gpu.skip() == cpu.skip());
    CHECK(gpu.stats().corrupt_packets == 0);
  }
}

TEST_CASE("a codec NVDEC cannot decode throws hardware_decode_error naming it", "[io][nvdec][cuda][videos]") {
  if (!have_nvdec()) return;
  // Cinepak and MS-MPEG-4 v3: FFmpeg has no CUDA hwaccel for them.
  for (const char* name : {"tree.avi", "vtest.avi"}) {
    const auto path = lt::video(name);
    INFO(path);
    try {
      VideoReader reader(path, {.device = "cuda"});
      FAIL("opened for GPU decoding");
    } catch (const longform::hardware_decode_error& e) {
      CHECK(e.missing() == longform::hardware_missing::codec_support);
      CHECK(std::string(e.what()).starts_with(path + ": "));
      CHECK(std::string(e.what()).find("no NVDEC support") != std::string::npos);
    }
  }
}
