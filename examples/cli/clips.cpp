// SPDX-License-Identifier: MIT
// `longform clips`: the clips a sampler takes from videos (files or folders of them), one JSON line
// per clip, each frame with its presentation time; with --decode,
// the whole pipeline (decode at size, center crop, per-frame standardization, batches, prefetch)
// runs and one JSON line of throughput, decode amplification and peak memory is printed.
//
// The sampler is built by name from samplers.hpp's table, type-erased: one instantiation of the
// pipeline, whatever the sampler and the numbers.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/core/peak_rss.hpp>
#include <longform/io/ffmpeg_log.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/pipeline.hpp>
#include <longform/sampler.hpp>
#include <longform/source/forward_only.hpp>
#include <longform/source/video_list.hpp>
#include <longform/transform/center_crop.hpp>
#include <longform/transform/standardize.hpp>

#include "bad_input.hpp"
#include "commands.hpp"
#include "decode_device.hpp"
#include "samplers.hpp"

namespace {

struct ClipsArgs {
  std::vector<std::string> videos;
  std::string sampler = "sequential";
  std::int64_t frames = 16, stride = 1, hop = 0, streams = 4, capacity = 32, epochs = 1, limit = 0;
  double segment_seconds = 10;
  std::uint64_t seed = 0;
  bool no_shuffle = false, decode = false;
  std::int64_t size = 224, batch = 8, prefetch = 4, threads = 0;
  longform::cli::ReplayArgs replay;   // storyboard sizes, --dedup-gap
  int workers = 0;                    // --decode-workers; 0: the thread budget's
  std::string decode_device = "cpu";  // --decode-device: cpu, cuda, cuda:N (NVDEC; CPU if unavailable)
  bool forward_only = false;          // an input is standard input, a pipe or a live URL
};

// The command's inputs: each argument a video, or a folder whose videos (by extension) are taken
// in sorted order. A folder without videos is skipped like a bad video.
std::vector<std::string> expand(const std::vector<std::string>& args, longform::cli::SkippedInputs& skipped) {
  std::vector<std::string> videos;
  for (const auto& arg : args) {
    std::error_code ec;
    if (!std::filesystem::is_directory(arg, ec)) {
      videos.push_back(arg);
      continue;
    }
    try {
      const auto found = longform::VideoList::from_directory(arg).paths();
      videos.insert(videos.end(), found.begin(), found.end());
    } catch (const longform::config_error& e) {
      skipped.skip(arg, e.what());
    }
  }
  return videos;
}

// Says which videos gave no clip once the sampler ran to its end (not cut by --limit): too short
// for one, as those that failed are reported already.
void report_clipless(const ClipsArgs& a, const longform::VideoList& source, const std::set<std::size_t>& gave,
                     longform::cli::SkippedInputs& skipped) {
  const auto span = (a.frames - 1) * a.stride + 1;
  for (std::size_t v = 0; v < source.size(); ++v) {
    if (gave.contains(v) || skipped.contains(source.name(v))) continue;
    skipped.skip(source.name(v), "gave no clip: shorter than one clip (" + std::to_string(a.frames) + " frames " + std::to_string(a.stride) +
                                     " apart span " + std::to_string(span) + " frames)");
  }
}

void list_clips(const ClipsArgs& a, const longform::VideoList& source, longform::AnySampler sampler,
                const std::shared_ptr<longform::Telemetry>& telemetry, longform::cli::SkippedInputs& skipped) {
  // A forward-only input (`-`, `pipe:N`, a live URL) has no index to count frames from: its clips
  // are found by decoding it, once.
  longform::ClipContext ctx(source, {.decode = a.forward_only, .telemetry = telemetry});
  std::set<std::size_t> gave;
  std::int64_t n = 0;
  bool limited = false;
  for (;;) {
    auto clip = sampler.next(ctx);
    skipped.take(*telemetry);
    if (!clip) break;
    // `seconds`: each frame's presentation time (`Frame::seconds`), also on variable frame rate.
    nlohmann::json line{{"video", clip->name}, {"index", clip->video}, {"frames", clip->frames}, {"seconds", clip->seconds}};
    std::printf("%s\n", line.dump().c_str());
    gave.insert(clip->video);
    if (a.limit > 0 && ++n >= a.limit) {
      limited = true;
      break;
    }
  }
  std::fflush(stdout);
  if (!limited) report_clipless(a, source, gave, skipped);
  skipped.finish(!gave.empty(), "clips: no clip from any video");
}

void run_pipeline(const ClipsArgs& a, const longform::VideoList& source, longform::AnySampler sampler, const longform::ThreadBudget& budget,
                  const std::shared_ptr<longform::Telemetry>& telemetry, longform::cli::SkippedInputs& skipped) {
  namespace views = longform::views;
  auto batches = source |
                 views::sample(std::move(sampler), {.context = {.telemetry = telemetry}, .record_state = false, .workers = a.workers},
                               longform::CenterCrop{a.size} | longform::Standardize{}) |
                 views::batch(a.batch) | views::prefetch(static_cast<std::size_t>(a.prefetch), telemetry);
  const auto start = std::chrono::steady_clock::now();
  std::int64_t clips = 0, n_batches = 0;
  double checksum = 0;
  std::set<std::size_t> gave;
  bool limited = false;
  for (const longform::ClipBatch& b : batches) {
    skipped.take(*telemetry);
    clips += b.data.size(0);
    ++n_batches;
    for (const auto& c : b.clips) gave.insert(c.video);
    checksum += b.data.select(2, 0).select(2, 0).sum().item<double>();  // touch the data
    if (a.limit > 0 && clips >= a.limit) {
      limited = true;
      break;
    }
  }
  skipped.take(*telemetry);
  if (!limited) report_clipless(a, source, gave, skipped);
  skipped.finish(clips > 0, "clips: no clip from any video");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json line{{"sampler", a.sampler},
                      {"clips", clips},
                      {"batches", n_batches},
                      {"clip_shape", {3, a.frames, a.size, a.size}},
                      {"seconds", seconds},
                      {"clips_per_s", seconds > 0 ? static_cast<double>(clips) / seconds : 0.0},
                      {"frames_decoded", telemetry->frames_decoded.load()},
                      {"frames_used", telemetry->frames_used.load()},
                      {"decode_amplification", telemetry->amplification()},
                      {"seeks", telemetry->seeks.load()},
                      {"consumer_wait_s", telemetry->wait_seconds()},
                      {"corrupt_packets", telemetry->corrupt_packets.load()},
                      {"ffmpeg_errors", longform::ffmpeg_log_counts().errors},
                      {"peak_rss_mib", longform::peak_rss_mib()},
                      {"threads", {{"decode_workers", a.workers}, {"decoder", budget.decoder_threads(a.workers)}, {"intra_op", budget.intra_op}}},
                      {"checksum", checksum},
                      {"skipped", skipped.json()}};
  std::printf("%s\n", line.dump().c_str());
}

void run(const ClipsArgs& a) {
  using namespace longform;
  cli::SkippedInputs skipped;
  const auto videos = expand(a.videos, skipped);
  if (videos.empty()) skipped.finish(false, "clips: no video among the inputs");
  const ThreadBudget budget = ThreadBudget::plan(static_cast<int>(a.threads), 1);
  budget.apply();
  ClipsArgs args = a;
  args.forward_only = std::any_of(videos.begin(), videos.end(), [](const std::string& v) { return is_forward_only_input(v); });
  // Decode workers (one reader each), unless the input can be read by one reader only, which then
  // gets FFmpeg's frame threads.
  args.workers = args.forward_only ? 1 : a.workers > 0 ? a.workers : budget.workers;
  // --decode: each video scaled at decode (swscale) to the short side `size`, whatever its
  // orientation; the center crop then always fits.
  // --decode-device cuda: NVDEC, CUDA frames and clips; CPU decoding where it cannot run (one line on stderr).
  const std::string device = cli::decode_device(a.decode_device, "clips", videos.empty() ? std::nullopt : std::optional(videos.front()));
  const VideoList source(videos, {.threads = budget.decoder_threads(args.workers), .short_side = a.decode ? a.size : 0, .device = device});
  AnySampler sampler = cli::make_sampler(a.sampler, {.frames = a.frames,
                                                     .stride = a.stride,
                                                     .hop = a.hop,
                                                     .segment_seconds = a.segment_seconds,
                                                     .shuffle_frames = !a.no_shuffle,
                                                     .streams = a.streams,
                                                     .capacity = a.capacity,
                                                     .seed = a.seed,
                                                     .epochs = a.epochs,
                                                     .batch = a.batch,
                                                     .replay = a.replay});
  const auto telemetry = std::make_shared<Telemetry>();
  try {
    if (a.decode) {
      run_pipeline(args, source, std::move(sampler), budget, telemetry, skipped);
    } else {
      list_clips(args, source, std::move(sampler), telemetry, skipped);
    }
  } catch (const decode_error& e) {  // every video failed: the context lets the last failure through
    skipped.take(*telemetry);
    skipped.skip(e.path(), e.what());
    skipped.finish(false, "clips: no video could be read");
  }
}

}  // namespace

void add_clips_command(CLI::App& app) {
  auto a = std::make_shared<ClipsArgs>();
  auto* cmd = app.add_subcommand("clips", "Clips a sampler takes from videos (JSON lines); --decode runs the whole pipeline");
  cmd->add_option("videos", a->videos, "Video files, or folders of them (scanned); bad ones and those too short for a clip are skipped and named")
      ->required();
  cmd->add_option("--sampler", a->sampler, "Clip sampler")->check(CLI::IsMember(names_of(longform::cli::samplers())))->capture_default_str();
  cmd->add_option("--frames", a->frames, "T, frames per clip")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--stride", a->stride, "τ, step between a clip's frames")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--hop", a->hop, "h, step between sequential clip starts; 0 = back to back (T·τ)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--segment-seconds", a->segment_seconds, "random: segment length in seconds")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--no-shuffle", a->no_shuffle, "random: keep frames in temporal order");
  cmd->add_option("--streams", a->streams, "multistream: B parallel streams")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--capacity", a->capacity, "replay: clips in the shuffle buffer")->check(CLI::PositiveNumber)->capture_default_str();
  longform::cli::add_replay_options(cmd, a->replay);
  cmd->add_option("--epochs", a->epochs, "passes over the videos; 0 = endless")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--seed", a->seed, "sampler seed")->capture_default_str();
  cmd->add_option("--limit", a->limit, "stop after this many clips; 0 = no limit")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--decode", a->decode, "run the pipeline: decode, crop, standardize, batch, prefetch; print throughput");
  cmd->add_option("--size", a->size, "--decode: clips are size×size (short side scaled at decode, center crop)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "--decode: clips per batch")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--prefetch", a->prefetch, "--decode: batches decoded ahead")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", a->threads, "--decode: cores to use (0 = all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--decode-workers", a->workers, "--decode: decoding threads, one reader each (0 = one per core; 1 for a pipe or live stream)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--decode-device", a->decode_device,
                  "where videos are decoded: cpu, or cuda / cuda:N (NVDEC: CUDA clips; CPU decoding, said once, where it cannot run)")
      ->capture_default_str();
  cmd->callback([a] { run(*a); });
}
