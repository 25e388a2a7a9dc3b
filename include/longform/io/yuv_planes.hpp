// SPDX-License-Identifier: MIT
/// @file
/// `YuvPlanes`: a decoded picture as the decoder made it, before colour conversion and scaling
/// (`VideoReader::next_planes()`), on the device that decoded it.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace longform {

/// The luma and chroma planes of one decoded frame, in the coded orientation and size.
///
/// - `y` is `[H, W]`, `u` (Cb) and `v` (Cr) are `[Hc, Wc]` (`Hc = ceil(H / 2)` for 4:2:0, ...).
/// - 8-bit video: `uint8` planes. Deeper video: `int16` planes holding the sample value itself
///   (0..1023 for 10 bits), whatever the decoder's layout (LSB-aligned `yuv420p10le` on the CPU,
///   MSB-aligned `P010` from NVDEC), so the two compare directly.
/// - Semi-planar output (NVDEC's NV12) comes out split: `u` and `v` are separate planes.
/// - Contiguous copies: they outlive the decoder's frame pool.
struct YuvPlanes {
  at::Tensor y, u, v;
  int bit_depth = 8;        ///< bits per sample
  int colorspace = 2;       ///< the frame's `AVColorSpace` (2: unspecified, read as BT.601 as swscale does)
  bool full_range = false;  ///< `AVCOL_RANGE_JPEG` (0..255) rather than limited (16..235 luma)
  std::int64_t index = 0;   ///< as `Frame::index`
  std::int64_t pts = 0;     ///< as `Frame::pts`
  double seconds = 0.0;     ///< as `Frame::seconds`
};

}  // namespace longform
