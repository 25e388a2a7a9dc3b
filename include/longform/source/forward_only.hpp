// SPDX-License-Identifier: MIT
/// @file
/// `is_forward_only_input(url)`: whether an input can only be read once, from the front —
/// standard input (`-`), a pipe (`pipe:N`) or a live network stream — so that it has no frame
/// index, cannot be opened a second time, and is decoded by one reader.
#pragma once

#include <array>
#include <string_view>

namespace longform {

/// True for `-`, `pipe:N` and live-stream URLs (udp, rtp, rtsp, rtmp, srt, tcp).
[[nodiscard]] inline bool is_forward_only_input(std::string_view url) noexcept {
  constexpr std::array<std::string_view, 7> live{"pipe:", "udp:", "rtp:", "rtsp:", "rtmp:", "srt:", "tcp:"};
  if (url == "-") return true;
  for (const auto scheme : live) {
    if (url.starts_with(scheme)) return true;
  }
  return false;
}

}  // namespace longform
