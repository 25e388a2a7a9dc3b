// SPDX-License-Identifier: MIT
/// @file
/// `VideoInfo`: what a container says about its video stream, before any decoding.
#pragma once

#include <cstdint>
#include <string>

#include <longform/core/rational.hpp>

namespace longform {

/// Metadata of a video stream, as probed from its container (ffprobe's view of it).
struct VideoInfo {
  std::string path;                  ///< the input as given (file, URL, `pipe:`)
  std::int64_t width = 0;            ///< native width in pixels
  std::int64_t height = 0;           ///< native height in pixels
  Rational fps;                      ///< average frame rate (ffprobe `avg_frame_rate`), 0/1 if unknown
  Rational time_base;                ///< unit of `Frame::pts`
  double duration = 0.0;             ///< seconds; 0 if unknown (pipes, live streams)
  double start_time = 0.0;           ///< seconds of the first timestamp
  std::string codec;                 ///< decoder name, e.g. "h264"
  std::int64_t frame_count = -1;     ///< container's estimate (`nb_frames`, else duration · fps); -1 if unknown
  int stream_index = -1;             ///< which container stream is decoded
};

}  // namespace longform
