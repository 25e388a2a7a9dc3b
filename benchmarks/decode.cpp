// SPDX-License-Identifier: MIT
// Decode throughput of VideoReader: every frame to packed RGB24, at native size and scaled to
// 224x224 during decode. Prints one JSON line; benchmarks/decode.py runs it beside its peers.
// usage: bench_decode VIDEO THREADS REPEATS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <longform/io/video_reader.hpp>

namespace {

// Best-of-`repeats` frames per second for one decode configuration.
double frames_per_second(const std::string& path, longform::ReaderOptions options, int repeats, std::int64_t& frames) {
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    longform::VideoReader reader(path, options);
    frames = 0;
    while (auto f = reader.next()) ++frames;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::max(best, static_cast<double>(frames) / took.count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s VIDEO [THREADS] [REPEATS]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  try {
    std::int64_t frames = 0;
    const double native = frames_per_second(path, {.threads = threads}, repeats, frames);
    const double scaled = frames_per_second(path, {.threads = threads, .width = 224, .height = 224}, repeats, frames);
    std::printf("{\"frames\": %lld, \"native_fps\": %.2f, \"scaled224_fps\": %.2f}\n", static_cast<long long>(frames), native, scaled);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode: %s\n", e.what());
    return 1;
  }
}
