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
  std::string path;                 ///< the input as given (file, URL, `pipe:`)
  std::int64_t width = 0;           ///< width of the frames as displayed (after `rotation`), in pixels
  std::int64_t height = 0;          ///< height of the frames as displayed (after `rotation`), in pixels
  std::int64_t coded_width = 0;     ///< width as coded in the stream, before rotation
  std::int64_t coded_height = 0;    ///< height as coded in the stream, before rotation
  int rotation = 0;                 ///< clockwise turn applied for display: 0, 90, 180 or 270 (display matrix)
  Rational fps;                     ///< average frame rate (ffprobe `avg_frame_rate`), 0/1 if unknown
  Rational time_base;               ///< unit of `Frame::pts`
  double duration = 0.0;            ///< the video stream's duration in seconds (the container's if the stream has none); 0 if unknown
  bool duration_is_stream = false;  ///< `duration` is the stream's own (MP4, MOV, AVI), not the container's (MKV, MPEG-TS)
  double start_time = 0.0;          ///< seconds of the first timestamp
  std::string codec;                ///< decoder name, e.g. "h264"
  std::int64_t frame_count = -1;    ///< an estimate (`nb_frames`, else duration · fps); -1 if unknown. Exact: `VideoReader::frame_count()`
  int stream_index = -1;            ///< which container stream is decoded
};

}  // namespace longform
