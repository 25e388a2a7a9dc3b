// SPDX-License-Identifier: MIT
// `longform info VIDEO...`: one JSON object per line with what the container says.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/io/video_reader.hpp>

#include "commands.hpp"

namespace {

nlohmann::json describe(const std::string& path, bool count) {
  longform::VideoReader reader(path, {.threads = 0});
  const auto& info = reader.info();
  nlohmann::json j{{"path", info.path},
                   {"width", info.width},
                   {"height", info.height},
                   {"fps", std::to_string(info.fps.num) + "/" + std::to_string(info.fps.den)},
                   {"duration", info.duration},
                   {"codec", info.codec},
                   {"frames", info.frame_count}};
  if (count) {  // decode everything: the exact number of decodable frames
    std::int64_t n = 0;
    while (reader.next()) ++n;
    j["frames"] = n;
    j["frames_estimate"] = info.frame_count;
  }
  return j;
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print width, height, fps, duration, codec and frame count as JSON lines");
  auto paths = std::make_shared<std::vector<std::string>>();
  auto count = std::make_shared<bool>(false);
  cmd->add_option("videos", *paths, "Video files or URLs")->required();
  cmd->add_flag("--count", *count, "Decode every frame and report the exact count");
  cmd->callback([paths, count] {
    for (const auto& p : *paths) std::printf("%s\n", describe(p, *count).dump().c_str());
  });
}
