// SPDX-License-Identifier: MIT
// The `longform` command on bad or unusual input: one skip-and-report rule everywhere
// (good inputs processed, each bad one named on stderr and in the summary's "skipped", exit 0 / 3 / 1),
// presentation times and per-video sizing in `clips`, exact-only `frames` in `info`, no silent
// overwrite in `pretrain`, and clean output (no FFmpeg log, one-line errors, plain progress lines).
// Derived inputs (portrait video, README in a class folder, noise named .mkv) are made here with ffmpeg.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/io/video_reader.hpp>

#include "../support.hpp"
#include "../catch.hpp"

namespace fs = std::filesystem;
namespace lt = longform::test;
using nlohmann::json;

namespace {

std::string cli(const std::string& args) { return std::string(LONGFORM_CLI) + " " + args; }
std::string shell_arg(const fs::path& p) { return "'" + p.string() + "'"; }

// The JSON objects among a command's output lines, in order.
std::vector<json> json_lines(const std::string& output) {
  std::vector<json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') out.push_back(json::parse(line));
  }
  return out;
}

// Lines of `output` that contain `text`.
std::size_t count_lines(const std::string& output, const std::string& text) {
  std::istringstream in(output);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos;
  return n;
}

// A short H.264 file of `frames` frames scaled to width x height, cut from the test footage.
fs::path derived(const fs::path& dir, const std::string& name, int width, int height, int frames = 24) {
  const auto out = dir / name;
  const auto r = lt::run("ffmpeg -nostdin -v error -y -i " + shell_arg(lt::video("vtest_h264.mp4")) + " -frames:v " + std::to_string(frames) +
                         " -vf scale=" + std::to_string(width) + ":" + std::to_string(height) + " -c:v libx264 -preset ultrafast -pix_fmt yuv420p " +
                         shell_arg(out));
  REQUIRE(r.status == 0);
  return out;
}

// Random bytes under a video's name.
fs::path noise(const fs::path& path) {
  std::ofstream f(path, std::ios::binary);
  std::mt19937 bytes(16);
  for (int i = 0; i < 50000; ++i) f.put(static_cast<char>(bytes() & 0xff));
  return path;
}

}  // namespace

TEST_CASE("clips reports presentation time on VFR video", "[io][videos][cli]") {
  const auto path = lt::video("vfr_h264.mkv");
  std::map<std::int64_t, double> seconds;  // Frame::seconds of every frame, by index
  longform::VideoReader reader(path, {.threads = 1, .width = 32, .height = 24});
  while (auto f = reader.next()) seconds[f->index] = f->seconds;
  const double fps = reader.info().fps.value();

  const auto r = lt::run(cli("clips --frames 2 --stride 100 --hop 50 " + shell_arg(path)));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto clips = json_lines(r.output);
  REQUIRE(clips.size() >= 1);
  bool differs_from_index_over_fps = false;
  for (const auto& c : clips) {
    const auto frames = c["frames"].get<std::vector<std::int64_t>>();
    const auto times = c["seconds"].get<std::vector<double>>();
    REQUIRE(frames.size() == times.size());
    for (std::size_t t = 0; t < frames.size(); ++t) {
      CHECK(times[t] == Approx(seconds.at(frames[t])).margin(1e-6));
      differs_from_index_over_fps |= std::abs(times[t] - static_cast<double>(frames[t]) / fps) > 1.0;
    }
  }
  CHECK(differs_from_index_over_fps);  // the file is VFR: index / fps would be seconds off
}

TEST_CASE("clips --decode sizes each video by its own orientation, and skips a missing first video", "[io][videos][cli]") {
  const auto dir = lt::scratch("cli-orientation");
  const auto landscape = derived(dir, "landscape.mp4", 64, 36);
  const auto portrait = derived(dir, "portrait.mp4", 36, 64);
  const std::string args = "clips --decode --size 32 --frames 2 --stride 2 --batch 2 --threads 2 ";

  auto r = lt::run(cli(args + shell_arg(landscape) + " " + shell_arg(portrait)));
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto summary = json_lines(r.output).back();
  CHECK(summary["clips"] == 12);  // 24 frames / (2 frames · stride 2) = 6 clips from each
  CHECK(summary["clip_shape"] == json::array({3, 2, 32, 32}));
  CHECK(summary["skipped"].empty());

  const auto missing = dir / "missing.mp4";
  r = lt::run(cli(args + shell_arg(missing) + " " + shell_arg(landscape) + " " + shell_arg(portrait)));
  INFO(r.output);
  CHECK(r.status == 3);
  CHECK(count_lines(r.output, "longform: skipped " + missing.string() + ":") == 1);
  summary = json_lines(r.output).back();
  CHECK(summary["clips"] == 12);
  REQUIRE(summary["skipped"].size() == 1);
  CHECK(summary["skipped"][0]["path"] == missing.string());
}

TEST_CASE("info prints every readable input and names each bad one, with an exit status saying what was skipped", "[io][videos][cli]") {
  const auto dir = lt::scratch("cli-info");
  const auto readme = dir / "README.txt";
  std::ofstream(readme) << "not a video\n";
  const auto missing = dir / "missing.mp4";
  const auto good = lt::video("vtest_h264.mp4"), vfr = lt::video("vfr_h264.mkv");

  auto r = lt::run(cli("info " + shell_arg(good) + " " + shell_arg(missing) + " " + shell_arg(readme) + " " + shell_arg(vfr)));
  INFO(r.output);
  CHECK(r.status == 3);
  const auto lines = json_lines(r.output);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["path"] == good);
  CHECK(lines[1]["path"] == vfr);
  CHECK(count_lines(r.output, "longform: skipped " + missing.string() + ":") == 1);
  CHECK(count_lines(r.output, "longform: skipped " + readme.string() + ":") == 1);

  r = lt::run(cli("info " + shell_arg(good)));
  CHECK(r.status == 0);
  r = lt::run(cli("info " + shell_arg(missing) + " " + shell_arg(readme)));
  CHECK(r.status == 1);
  CHECK(json_lines(r.output).empty());
  CHECK(count_lines(r.output, "longform: skipped ") == 2);
  CHECK(count_lines(r.output, "longform: error: ") == 1);
}

TEST_CASE("info reports frames only when exact, and the displayed and coded sizes", "[io][videos][cli]") {
  const auto vfr = lt::video("vfr_h264.mkv");
  const auto exact = std::stoll(lt::probe(vfr, "stream=nb_read_frames", "-count_frames"));
  auto r = lt::run(cli("info " + shell_arg(vfr)));
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto j = json_lines(r.output).at(0);
  CHECK_FALSE(j.contains("frames"));  // without --count the count is a guess
  CHECK(j.contains("frames_estimate"));
  CHECK(j["width"] == 768);
  CHECK(j["height"] == 576);
  CHECK(j["coded_width"] == 768);
  CHECK(j["coded_height"] == 576);
  CHECK(j["rotation"] == 0);

  r = lt::run(cli("info --count " + shell_arg(vfr)));
  REQUIRE(r.status == 0);
  j = json_lines(r.output).at(0);
  CHECK(j["frames"] == exact);
}

TEST_CASE("clips takes folders, finds .MTS and .3gp videos in them and skips a broken one by name", "[io][videos][cli]") {
  const auto dir = lt::scratch("cli-folder");
  const auto mp4 = derived(dir, "a.mp4", 64, 36);
  REQUIRE(lt::run("ffmpeg -nostdin -v error -y -i " + shell_arg(mp4) + " -c copy -f mpegts " + shell_arg(dir / "b.MTS")).status == 0);
  REQUIRE(lt::run("ffmpeg -nostdin -v error -y -i " + shell_arg(mp4) + " -c copy -f 3gp " + shell_arg(dir / "c.3gp")).status == 0);
  std::ofstream(dir / "README.txt") << "notes, not a video\n";
  const auto broken = noise(dir / "d.mkv");

  const auto r = lt::run(cli("clips --frames 2 --stride 4 " + shell_arg(dir)));
  INFO(r.output);
  CHECK(r.status == 3);
  std::map<std::string, int> clips;
  for (const auto& c : json_lines(r.output)) ++clips[fs::path(c["video"].get<std::string>()).filename().string()];
  CHECK(clips["a.mp4"] == 3);
  CHECK(clips["b.MTS"] == 3);
  CHECK(clips["c.3gp"] == 3);
  CHECK(count_lines(r.output, "longform: skipped " + broken.string() + ":") == 1);
  CHECK(count_lines(r.output, "README.txt") == 0);  // not a video by its name: not an input

  const auto empty = lt::scratch("cli-empty-folder");
  const auto none = lt::run(cli("clips " + shell_arg(empty)));
  CHECK(none.status == 1);
  CHECK(count_lines(none.output, "longform: skipped " + empty.string() + ":") == 1);
}

TEST_CASE("clips names each video too short for a clip, and fails when no video gives one", "[io][videos][cli]") {
  const auto dir = lt::scratch("cli-short");
  const auto shorter = derived(dir, "short.mp4", 64, 36, 8);
  const auto longer = derived(dir, "long.mp4", 64, 36, 24);
  for (const char* sampler : {"sequential", "multistream", "replay"}) {
    INFO(sampler);
    auto r = lt::run(cli(std::string("clips --sampler ") + sampler + " --streams 1 --frames 4 --stride 4 " + shell_arg(shorter)));
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK(count_lines(r.output, "longform: skipped " + shorter.string() + ": gave no clip") == 1);
    r = lt::run(
        cli(std::string("clips --sampler ") + sampler + " --streams 1 --frames 4 --stride 4 " + shell_arg(shorter) + " " + shell_arg(longer)));
    CHECK(r.status == 3);
    CHECK(json_lines(r.output).size() == 1);  // 24 frames hold one clip spanning 13
  }
  const auto r = lt::run(cli("clips --decode --size 32 --frames 4 --stride 4 " + shell_arg(shorter)));
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(count_lines(r.output, "longform: skipped " + shorter.string() + ": gave no clip") == 1);
}

TEST_CASE("finetune on a class folder skips a README and names a corrupt video", "[io][videos][cli][slow]") {
  const auto root = lt::scratch("cli-finetune-folder");
  for (const char* part : {"train", "test"}) {
    for (const char* cls : {"left", "right"}) {
      const auto d = root / part / cls;
      fs::create_directories(d);
      derived(d, "v1.mp4", 48, 32, 6);
      if (std::string(part) == "train") derived(d, "v2.mp4", 32, 48, 6);
    }
  }
  std::ofstream(root / "train" / "left" / "README.txt") << "how these were filmed\n";
  const auto corrupt = noise(root / "train" / "right" / "v3.mp4");
  const auto r = lt::run(cli("finetune --dataset folder --root " + shell_arg(root) +
                             " --arch x3d_tiny --protocol knn --k 2 --frames 2 --stride 1 --size 32 --clips 1 --threads 1"));
  INFO(r.output);
  CHECK(r.status == 3);
  CHECK(count_lines(r.output, "longform: skipped " + corrupt.string() + ":") == 1);
  CHECK(count_lines(r.output, "README.txt") == 0);
  const auto lines = json_lines(r.output);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].contains("top1"));
  REQUIRE(lines[0]["skipped"].size() == 1);
  CHECK(lines[0]["skipped"][0]["path"] == corrupt.string());
}

TEST_CASE("pretrain refuses to overwrite an earlier run unless told, and says when there is nothing to do", "[io][cli][slow]") {
  const auto out = lt::scratch("cli-pretrain-overwrite");
  const std::string run =
      cli("pretrain --synthetic --method moco --arch x3d_xs --frames 2 --stride 2 --size 32 --batch 2 "
          "--queue-size 8 --threads 1 --steps 2 --out " +
          shell_arg(out));
  auto r = lt::run("LONGFORM_PROGRESS_SECONDS=0 " + run);
  INFO(r.output);
  REQUIRE(r.status == 0);
  // stderr is a pipe: plain progress lines (here one per step), no self-rewriting bar
  CHECK(count_lines(r.output, "longform: 1/2  loss") == 1);
  CHECK(count_lines(r.output, "longform: 2/2  loss") == 1);
  CHECK(r.output.find('\r') == std::string::npos);
  const auto checkpoint = out / "checkpoint.pt";
  const auto written = fs::last_write_time(checkpoint);

  r = lt::run(run);
  CHECK(r.status == 1);
  CHECK(count_lines(r.output, "longform: error: pretrain: ") == 1);
  CHECK_THAT(r.output, Catch::Contains("--overwrite") && Catch::Contains("--resume"));
  CHECK(fs::last_write_time(checkpoint) == written);

  r = lt::run(run + " --resume");
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("nothing to do") && Catch::Contains("at step 2"));
  const auto summary = json_lines(r.output).at(0);
  CHECK(summary["steps_run"] == 0);
  CHECK_FALSE(summary.contains("loss"));  // no step ran: no loss to report
  CHECK(fs::last_write_time(checkpoint) == written);

  r = lt::run(run + " --overwrite");
  CHECK(r.status == 0);
  CHECK(json_lines(r.output).at(0)["steps_run"] == 2);
}

TEST_CASE("user errors are one line without a C++ stack trace, and bad command lines exit 2", "[io][cli]") {
  auto r = lt::run(cli("model --arch vit_tiny --summary --size 30"));
  INFO(r.output);
  CHECK(r.status == 1);
  CHECK(count_lines(r.output, "") == 1);
  CHECK_THAT(r.output, Catch::StartsWith("longform: error: ") && Catch::Contains("patch_size"));
  CHECK_THAT(r.output, !Catch::Contains("frame #") && !Catch::Contains("Exception raised from"));

  r = lt::run(cli("model --arch vit_tiny"));  // neither --summary nor --weights
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("nothing to do"));
}

TEST_CASE("FFmpeg's log stays off stderr unless --verbose, and the damage is still counted", "[io][videos][cli]") {
  const auto damaged = (fs::path(LONGFORM_HOSTILE_DIR) / "corrupt_frame.mp4").string();
  // Every frame decoded (stride 1), the damaged one included.
  auto r = lt::run(cli("clips --decode --size 32 --frames 16 --stride 1 --threads 1 " + shell_arg(damaged)));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find(" @ 0x") == std::string::npos);  // FFmpeg's "[h264 @ 0x...]" lines
  const auto summary = json_lines(r.output).back();
  CHECK(summary["ffmpeg_errors"].get<std::int64_t>() > 0);
  CHECK(summary["corrupt_packets"].get<std::int64_t>() > 0);

  r = lt::run(cli("clips --decode --size 32 --frames 16 --stride 1 --threads 1 --verbose " + shell_arg(damaged)));
  CHECK(r.status == 0);
  CHECK(r.output.find(" @ 0x") != std::string::npos);
}

namespace {

// A live H.264 MPEG-TS of `seconds` s at 25 fps, generated by ffmpeg and piped into `command`.
std::string live_stream_into(const std::string& command, int seconds) {
  return "ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=160x120:rate=25 -t " + std::to_string(seconds) +
         " -c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p -f mpegts - | " + command;
}

}  // namespace

TEST_CASE("a live stream piped into clips is read once, in order, listed and decoded", "[io][videos][live]") {
  const int frames = 4 * 25;
  const auto listed = lt::run(live_stream_into(cli("clips --frames 8 --stride 2 -"), 4));
  INFO(listed.output);
  REQUIRE(listed.status == 0);
  const auto clips = json_lines(listed.output);
  REQUIRE(static_cast<int>(clips.size()) == (frames - 15) / 16 + 1);
  for (std::size_t j = 0; j < clips.size(); ++j) {
    for (std::int64_t t = 0; t < 8; ++t) CHECK(clips[j]["frames"][t] == static_cast<std::int64_t>(16 * j) + 2 * t);
    // Presentation times: MPEG-TS starts at a timestamp other than 0; frames are 1/25 s apart.
    CHECK(clips[j]["seconds"][0].get<double>() - clips[0]["seconds"][0].get<double>() == Approx(16.0 * static_cast<double>(j) / 25).margin(1e-3));
  }
  const auto decoded = lt::run(live_stream_into(cli("clips --decode --frames 8 --stride 2 --size 64 --batch 2 -"), 4));
  INFO(decoded.output);
  REQUIRE(decoded.status == 0);
  const auto summary = json_lines(decoded.output).back();
  CHECK(summary["clips"] == static_cast<std::int64_t>(clips.size()));
  CHECK(summary["threads"]["decode_workers"] == 1);
}

TEST_CASE("pretrain reads a live stream from standard input", "[io][videos][live]") {
  const auto out = lt::scratch("live-pretrain");
  const auto r = lt::run(live_stream_into(cli("pretrain --videos - --method moco --arch x3d_xs --frames 4 --stride 2 --size 32"
                                              " --batch 2 --steps 2 --queue-size 8 --threads 2 --out " +
                                              shell_arg(out / "run")),
                                          4));
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("\"steps\":2") != std::string::npos);
}

TEST_CASE("pretrain --videos decodes as many frames per used frame as clips on the same file", "[io][videos]") {
  const auto video = shell_arg(lt::video("vtest_h264.mp4"));
  // One reader with one FFmpeg thread in both (frame threads decode ahead of the skip decisions).
  const std::string clip = " --frames 8 --stride 4 --size 64 --decode-workers 1 --threads 1 ";
  const auto clips = lt::run(cli("clips --decode --batch 4 --limit 24" + clip + video));
  INFO(clips.output);
  REQUIRE(clips.status == 0);
  const double listed = json_lines(clips.output).back()["decode_amplification"].get<double>();
  const auto out = lt::scratch("amplification");
  const auto trained = lt::run(
      cli("pretrain --method moco --arch x3d_xs --batch 4 --steps 6 --queue-size 8 --videos " + video + clip + "--out " + shell_arg(out / "run")));
  INFO(trained.output);
  REQUIRE(trained.status == 0);
  const double pretrained = json_lines(trained.output).back()["decode_amplification"].get<double>();
  CHECK(listed < 3.0);  // τ = 4: the non-reference frames in between are never decoded
  CHECK(pretrained == Approx(listed).epsilon(0.1));
}

TEST_CASE("info gives the stream's duration, and the container's only as an estimate", "[io][videos]") {
  const auto r = lt::run(cli("info " + shell_arg(lt::video("vtest_h264.mp4")) + " " + shell_arg(lt::video("vfr_h264.mkv"))));
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto lines = json_lines(r.output);
  REQUIRE(lines.size() == 2);
  // MP4 states the stream's duration; MKV only the container's.
  CHECK(lines[0]["duration"].get<double>() == Approx(std::stod(lt::probe(lt::video("vtest_h264.mp4"), "stream=duration"))).margin(1e-3));
  CHECK_FALSE(lines[0].contains("duration_estimate"));
  CHECK_FALSE(lines[1].contains("duration"));
  CHECK(lines[1]["duration_estimate"].get<double>() == Approx(std::stod(lt::probe(lt::video("vfr_h264.mkv"), "format=duration"))).margin(1e-3));
}
