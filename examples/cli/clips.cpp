// SPDX-License-Identifier: MIT
// `longform clips`: the clips a sampler takes from videos, one JSON line per clip; with --decode,
// the whole pipeline (decode at size, center crop, per-frame standardization, batches, prefetch)
// runs and one JSON line of throughput, decode amplification and peak memory is printed.
//
// Run-time values map onto the samplers' dynamic-extent twins (Stride<dynamic>, …): one
// instantiation per sampler kind, whatever the numbers.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/core/peak_rss.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/pipeline.hpp>
#include <longform/sampler.hpp>
#include <longform/source/video_list.hpp>
#include <longform/transform/center_crop.hpp>
#include <longform/transform/standardize.hpp>

#include "commands.hpp"

namespace {

using Sequential = longform::SequentialSampler<longform::Frames<longform::dynamic>, longform::Stride<longform::dynamic>,
                                               longform::Hop<longform::dynamic>>;
using Random = longform::RandomSampler<longform::SegmentSeconds<longform::dynamic>, longform::Frames<longform::dynamic>,
                                       longform::Stride<longform::dynamic>, longform::Shuffle<longform::dynamic>>;

struct ClipsArgs {
  std::vector<std::string> videos;
  std::string sampler = "sequential";
  std::int64_t frames = 16, stride = 1, hop = 0, streams = 4, capacity = 32, epochs = 1, limit = 0;
  double segment_seconds = 10;
  std::uint64_t seed = 0;
  bool no_shuffle = false, decode = false;
  std::int64_t size = 224, batch = 8, prefetch = 4, threads = 0;
};


template <class Sampler>
void list_clips(const ClipsArgs& a, const longform::VideoList& source, Sampler sampler) {
  longform::ClipContext ctx(source, {.decode = false});
  std::int64_t n = 0;
  while (auto clip = sampler.next(ctx)) {
    nlohmann::json line{{"video", clip->name}, {"index", clip->video}, {"frames", clip->frames}, {"seconds", clip->seconds}};
    std::printf("%s\n", line.dump().c_str());
    if (a.limit > 0 && ++n >= a.limit) break;
  }
}

template <class Sampler>
void run_pipeline(const ClipsArgs& a, const longform::VideoList& source, Sampler sampler, const longform::ThreadBudget& budget) {
  namespace views = longform::views;
  auto telemetry = std::make_shared<longform::Telemetry>();
  auto batches = source | views::sample(std::move(sampler), {.context = {.telemetry = telemetry}, .record_state = false}) |
                 views::transform(longform::CenterCrop{a.size} | longform::Standardize{}) | views::batch(a.batch) |
                 views::prefetch(static_cast<std::size_t>(a.prefetch), telemetry);
  const auto start = std::chrono::steady_clock::now();
  std::int64_t clips = 0, n_batches = 0;
  double checksum = 0;
  for (const longform::ClipBatch& b : batches) {
    clips += b.data.size(0);
    ++n_batches;
    checksum += b.data.select(2, 0).select(2, 0).sum().item<double>();  // touch the data
    if (a.limit > 0 && clips >= a.limit) break;
  }
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
                      {"peak_rss_mib", longform::peak_rss_mib()},
                      {"threads", {{"decoder", budget.decoder}, {"producers", budget.producers}, {"intra_op", budget.intra_op}}},
                      {"checksum", checksum}};
  std::printf("%s\n", line.dump().c_str());
}

void run(const ClipsArgs& a) {
  using namespace longform;
  const ThreadBudget budget = ThreadBudget::plan(static_cast<int>(a.threads), 1);
  budget.apply();
  ReaderOptions reader{.threads = budget.decoder};
  if (a.decode) {  // decode straight to the short side `size` (swscale), as the first video is oriented
    const VideoInfo info = VideoReader(a.videos.front(), {.threads = 1}).info();
    (info.width >= info.height ? reader.height : reader.width) = a.size;
  }
  const VideoList source(a.videos, reader);
  const Sequential sequential(Frames<dynamic>{a.frames}, Stride<dynamic>{a.stride}, Hop<dynamic>{a.hop},
                              {.seed = a.seed, .epochs = a.epochs});
  auto dispatch = [&](auto sampler) {
    if (a.decode) {
      run_pipeline(a, source, std::move(sampler), budget);
    } else {
      list_clips(a, source, std::move(sampler));
    }
  };
  if (a.sampler == "sequential") {
    dispatch(sequential);
  } else if (a.sampler == "random") {
    dispatch(Random(SegmentSeconds<dynamic>{a.segment_seconds}, Frames<dynamic>{a.frames}, Stride<dynamic>{a.stride},
                    Shuffle<dynamic>{!a.no_shuffle}, {.seed = a.seed, .epochs = a.epochs}));
  } else if (a.sampler == "multistream") {
    dispatch(MultiStream<dynamic, Sequential>(a.streams, sequential));
  } else if (a.sampler == "replay") {
    dispatch(ReplayBuffer<dynamic, Sequential>(a.capacity, sequential, a.seed));
  } else {
    throw config_error("clips: unknown sampler '" + a.sampler + "' (sequential, random, multistream, replay)");
  }
}

}  // namespace

void add_clips_command(CLI::App& app) {
  auto a = std::make_shared<ClipsArgs>();
  auto* cmd = app.add_subcommand("clips", "Clips a sampler takes from videos (JSON lines); --decode runs the whole pipeline");
  cmd->add_option("videos", a->videos, "Video files")->required();
  cmd->add_option("--sampler", a->sampler, "sequential | random | multistream | replay")
      ->check(CLI::IsMember({"sequential", "random", "multistream", "replay"}))
      ->capture_default_str();
  cmd->add_option("--frames", a->frames, "T, frames per clip")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--stride", a->stride, "τ, step between a clip's frames")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--hop", a->hop, "h, step between sequential clip starts; 0 = back to back (T·τ)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--segment-seconds", a->segment_seconds, "random: segment length in seconds")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--no-shuffle", a->no_shuffle, "random: keep frames in temporal order");
  cmd->add_option("--streams", a->streams, "multistream: B parallel streams")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--capacity", a->capacity, "replay: clips in the shuffle buffer")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "passes over the videos; 0 = endless")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--seed", a->seed, "sampler seed")->capture_default_str();
  cmd->add_option("--limit", a->limit, "stop after this many clips; 0 = no limit")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--decode", a->decode, "run the pipeline: decode, crop, standardize, batch, prefetch; print throughput");
  cmd->add_option("--size", a->size, "--decode: clips are size×size (short side scaled at decode, center crop)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", a->batch, "--decode: clips per batch")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--prefetch", a->prefetch, "--decode: batches decoded ahead")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", a->threads, "--decode: cores to use (0 = all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->callback([a] { run(*a); });
}
