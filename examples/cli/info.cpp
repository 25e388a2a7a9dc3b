// SPDX-License-Identifier: MIT
// `longform info VIDEO...`: one JSON object per line with what the container says. A key means one
// thing: `frames` is only ever exact (`--count` decodes them all), the container's guess is
// `frames_estimate`; `width`/`height` are the displayed size, `coded_*` the stream's before `rotation`.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/io/video_reader.hpp>

#include "bad_input.hpp"
#include "commands.hpp"

namespace {

nlohmann::json describe(const std::string& path, bool count) {
  longform::VideoReader reader(path, {.threads = 0});
  const auto& info = reader.info();
  nlohmann::json j{{"path", info.path},
                   {"width", info.width},
                   {"height", info.height},
                   {"coded_width", info.coded_width},
                   {"coded_height", info.coded_height},
                   {"rotation", info.rotation},
                   {"fps", std::to_string(info.fps.num) + "/" + std::to_string(info.fps.den)},
                   {"codec", info.codec}};
  // A key means one thing: the stream's own duration, or the container's as an estimate.
  j[info.duration_is_stream ? "duration" : "duration_estimate"] = info.duration;
  if (count) {  // decode everything: the exact number of decodable frames
    std::int64_t n = 0;
    while (reader.next()) ++n;
    j["frames"] = n;
  }
  j["frames_estimate"] = info.frame_count >= 0 ? nlohmann::json(info.frame_count) : nlohmann::json(nullptr);
  return j;
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print size, rotation, fps, duration, codec and frame count as JSON lines");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto count = std::make_shared<bool>(false);
  cmd->add_option("videos", *paths, "Video files or URLs ('-': standard input); bad ones are skipped and named")->required();
  cmd->add_flag("--count", *count, "Decode every frame and report the exact count as 'frames' (else only 'frames_estimate')");
  cmd->callback([paths, count] {
    longform::cli::SkippedInputs skipped;
    std::size_t described = 0;
    for (const auto& p : *paths) {
      try {
        const auto line = describe(p, *count);
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);  // in order with the stderr lines of the bad ones
        ++described;
      } catch (const longform::error& e) {
        skipped.skip(p, e.what());
      }
    }
    skipped.finish(described > 0, "info: no input could be read");
  });
}
