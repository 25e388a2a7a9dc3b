// SPDX-License-Identifier: MIT
// `longform framemd5 VIDEO`: one line per decoded frame, ending with the MD5 of its packed RGB24
// bytes at native size, in the order and count of `ffmpeg -i VIDEO -f framemd5 -pix_fmt rgb24 -`.
#include <cstdio>
#include <memory>
#include <string>

extern "C" {
#include <libavutil/md5.h>
}

#include <longform/io/video_reader.hpp>

#include "commands.hpp"

namespace {

std::string md5_hex(const at::Tensor& rgb) {
  std::uint8_t digest[16];
  av_md5_sum(digest, rgb.data_ptr<std::uint8_t>(), static_cast<size_t>(rgb.numel()));
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return hex;
}

}  // namespace

void add_framemd5_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("framemd5", "MD5 of every decoded frame (RGB24, native size)");
  auto path = std::make_shared<std::string>();
  cmd->add_option("video", *path, "Video file or URL")->required();
  cmd->callback([path] {
    longform::VideoReader reader(*path);
    std::printf("#format: frame index, pts, pts_time, size, md5 (rgb24)\n");
    while (auto frame = reader.next()) {
      std::printf("%lld, %lld, %.6f, %lld, %s\n", static_cast<long long>(frame->index), static_cast<long long>(frame->pts), frame->seconds,
                  static_cast<long long>(frame->rgb.numel()), md5_hex(frame->rgb).c_str());
    }
  });
}
