// SPDX-License-Identifier: MIT
// Clip pipeline throughput: sequential clips (T frames, stride τ, back to back) of one video,
// decoded at short side S, center-cropped to S×S, standardized per frame (on the decode workers),
// in float [3, T, S, S].
// Prints one JSON line: clips/s (best of R runs), decode amplification, consumer wait, peak RSS.
// usage: bench_pipeline VIDEO [--frames 16] [--stride 4] [--size 224] [--threads 0] [--workers 0] [--decoder-threads 0]
//                            [--repeats 3] [--batch 1] [--decode-device cpu|cuda]
//                            [--chunk-frames 1024]
// (0: the ThreadBudget's choice: every core, one decode worker per core, one FFmpeg thread per worker,
// or frame threads on every core for a single worker)
// Driver: benchmarks/pipeline.sh (compares with PyAV, torchcodec and decord in pipeline.py).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <longform/core/peak_rss.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/pipeline.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/video_file.hpp>
#include <longform/transform/center_crop.hpp>
#include <longform/transform/standardize.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_pipeline VIDEO [--frames T] [--stride S] [--size N] [--threads N] [--workers W] [--decoder-threads D] [--repeats R] "
                 "[--batch B] [--decode-device cpu|cuda] [--chunk-frames F]\n");
    return 2;
  }
  const std::string video = argv[1];
  std::int64_t frames = 16, stride = 4, size = 224, threads = 0, workers = 0, decoder_threads = 0, repeats = 3, batch = 1;
  std::int64_t chunk_frames = longform::SampleOptions{}.chunk_frames;
  std::string device = "cpu";  // cuda: NVDEC, frames decoded and prepared on the GPU
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::int64_t v = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--decode-device"))
      device = argv[i + 1];
    else if (!std::strcmp(argv[i], "--frames"))
      frames = v;
    else if (!std::strcmp(argv[i], "--stride"))
      stride = v;
    else if (!std::strcmp(argv[i], "--size"))
      size = v;
    else if (!std::strcmp(argv[i], "--threads"))
      threads = v;
    else if (!std::strcmp(argv[i], "--workers"))
      workers = v;
    else if (!std::strcmp(argv[i], "--decoder-threads"))
      decoder_threads = v;
    else if (!std::strcmp(argv[i], "--repeats"))
      repeats = v;
    else if (!std::strcmp(argv[i], "--batch"))
      batch = v;
    else if (!std::strcmp(argv[i], "--chunk-frames"))
      chunk_frames = v;
  }
  using namespace longform;
  try {
    const ThreadBudget budget = ThreadBudget::plan(static_cast<int>(threads), 1);
    budget.apply();
    const int w = workers > 0 ? static_cast<int>(workers) : budget.workers;
    // One worker decodes with FFmpeg's frame threads instead.
    const int per_reader = decoder_threads > 0 ? static_cast<int>(decoder_threads) : budget.decoder_threads(w);
    const ReaderOptions reader{.threads = per_reader, .short_side = size, .sws_flags = SWS_BILINEAR, .device = device};
    const VideoFile source(video, reader);
    using Sampler = SequentialSampler<Frames<dynamic>, Stride<dynamic>>;
    double best = 1e300;
    std::int64_t clips = 0;
    std::shared_ptr<Telemetry> telemetry;
    for (std::int64_t r = 0; r < repeats; ++r) {
      telemetry = std::make_shared<Telemetry>();
      auto batches =
          source |
          views::sample(Sampler(Frames<dynamic>{frames}, Stride<dynamic>{stride}),
                        {.context = {.telemetry = telemetry}, .workers = w, .chunk_frames = chunk_frames}, CenterCrop{size} | Standardize{}) |
          views::batch(batch) | views::prefetch(4, telemetry);
      const auto start = std::chrono::steady_clock::now();
      clips = 0;
      for (const ClipBatch& b : batches) clips += b.data.size(0);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf(
        "{\"clips\": %lld, \"seconds\": %.4f, \"clips_per_s\": %.3f, \"decode_amplification\": %.3f, \"frames_decoded\": %lld, "
        "\"consumer_wait_s\": %.4f, \"seeks\": %lld, \"peak_rss_mib\": %.1f, \"workers\": %d, \"decoder_threads\": %d, "
        "\"intra_op_threads\": %d, \"decode_device\": \"%s\"}\n",
        static_cast<long long>(clips), best, static_cast<double>(clips) / best, telemetry->amplification(),
        static_cast<long long>(telemetry->frames_decoded.load()), telemetry->wait_seconds(), static_cast<long long>(telemetry->seeks.load()),
        longform::peak_rss_mib(), w, reader.threads, budget.intra_op, device.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pipeline: %s\n", e.what());
    return 1;
  }
}
