// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes as a list file, through the parsers that read one:
// `VideoList::from_file` (one path per line, `#` comments, relative to the list) and `AvaVideos`
// (bare file names under a root folder), then `shard`. A `longform::error` is a correct answer to
// a bad list; a crash, a sanitizer report, another exception or a broken invariant is a bug.
// Run with `tests/fuzz/run SECONDS lists`.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <longform/source/ava_videos.hpp>
#include <longform/source/video_list.hpp>

#include "invariant.hpp"

namespace {
namespace fs = std::filesystem;

// A private folder for this process's list file (fuzzing jobs may run side by side).
const fs::path& work_dir() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("longform-list-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path list = work_dir() / "list.txt";
  {
    std::ofstream out(list, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const auto videos = longform::VideoList::from_file(list);
    LONGFORM_FUZZ_REQUIRE(videos.size() > 0);
    for (const auto& p : videos.paths()) {
      LONGFORM_FUZZ_REQUIRE(!p.empty());
      LONGFORM_FUZZ_REQUIRE(p.back() != ' ' && p.back() != '\t' && p.back() != '\r' && p.back() != '\n');
    }
    if (videos.size() >= 2) {
      const auto a = videos.shard(0, 2), b = videos.shard(1, 2);
      LONGFORM_FUZZ_REQUIRE(a.size() + b.size() == videos.size());
      LONGFORM_FUZZ_REQUIRE(a.name(0) == videos.name(0) && b.name(0) == videos.name(1));
    }
    // The same lines as AVA names: each resolves to a file name under the root.
    const longform::AvaVideos ava(list, work_dir());
    LONGFORM_FUZZ_REQUIRE(ava.size() == videos.size());
    for (std::size_t i = 0; i < ava.size(); ++i) LONGFORM_FUZZ_REQUIRE(fs::path(ava.name(i)).parent_path() == work_dir());
  } catch (const longform::error&) {
  }
  return 0;
}
