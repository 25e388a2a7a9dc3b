// SPDX-License-Identifier: MIT
/// @file
/// `Frame`: one decoded picture with its position in the video.
///
/// Layout (the one place it is stated for frames): `Frame::rgb` is a contiguous CPU `uint8`
/// tensor of shape `[H, W, 3]`, channels R, G, B. That is FFmpeg's packed RGB24, so the bytes
/// are exactly what `ffmpeg -pix_fmt rgb24` produces. Clips turn frames into `[C, T, H, W]` float.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace longform {

/// A decoded frame: pixels plus where it sits in the video.
struct Frame {
  at::Tensor rgb;          ///< `uint8 [H, W, 3]`, contiguous, CPU
  std::int64_t index = 0;  ///< position in presentation order, 0 = first frame of the video
  std::int64_t pts = 0;    ///< presentation timestamp in the stream's time base
  double seconds = 0.0;    ///< `pts · time_base`, as ffprobe's `pts_time`
};

}  // namespace longform
