// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes through VideoReader (in-memory AVIO): open, decode, seek.
// Any longform::error is a correct answer to a bad input; anything else (a crash, a sanitizer
// report, another exception type, a hang) is a bug. Run with tests/fuzz/run.
#include <cstddef>
#include <cstdint>
#include <span>

#include <longform/io/video_reader.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    // Small limits keep each input fast: fuzzing looks for wrong behaviour, not big frames.
    auto reader = longform::VideoReader::from_memory(std::span(data, size), "fuzz-input",
                                                     {.threads = 1, .width = 32, .height = 32, .max_pixels = 1 << 20});
    int decoded = 0;
    while (auto frame = reader.next()) {
      if (frame->rgb.size(0) != 32 || frame->rgb.size(1) != 32) __builtin_trap();
      if (++decoded == 16) break;
    }
    if (decoded > 2) {
      const auto n = reader.frame_count();
      if (n > 0) {
        reader.seek_frame(n / 2);
        (void)reader.next();
      }
    }
  } catch (const longform::error&) {
  }
  return 0;
}
