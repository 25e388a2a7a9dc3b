// SPDX-License-Identifier: MIT
/// @file
/// YUV planes to packed RGB24 with ATen ops, on whatever device the planes are: the colour
/// conversion and resizing of GPU decoding (`ReaderOptions::device = "cuda"`), written to follow
/// what swscale does on the CPU path.
///
/// - Matrix: swscale's own coefficients for the frame's colour space (`sws_getCoefficients`:
///   BT.709 for `bt709` and `rgb`, FCC, SMPTE 240M, BT.2020, and BT.601 for everything else,
///   unspecified included), limited range (luma 16..235, chroma 16..240) or full range, as
///   `sws_setColorspaceDetails` sets them up for the CPU path.
/// - Native size: each chroma sample covers its 2x2 (4:2:0) luma block, as swscale's unscaled
///   YUV-to-RGB converters do, and truncated as they do. Against swscale's converter the 8-bit
///   values differ by at most 2, mean below 0.5, on limited-range H.264 footage (full range: see
///   the looser bound in tests/io/nvdec.cpp).
/// - Another size (`short_side`, `width`/`height`): the full-resolution RGB, unrounded, is
///   resampled with antialiased bicubic interpolation (`_upsample_bicubic2d_aa`; swscale's
///   bicubic differs in its kernel and chroma handling), then rounded: mean absolute difference
///   below 0.5 downscaling, below 2.5 upscaling; isolated pixels at sharp colour edges further apart.
// IWYU pragma: private, include <longform/io/video_reader.hpp>
#pragma once

#include <algorithm>
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <ATen/ops/_upsample_bicubic2d_aa.h>
#include <ATen/ops/rot90.h>
#include <ATen/ops/stack.h>

extern "C" {
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
}

namespace longform::detail {

/// The YUV-to-RGB matrix for one colour space and range, as multipliers of 8-bit sample values.
struct yuv_matrix {
  double luma_offset, luma_gain;  // R = luma_gain · (Y - luma_offset) + red_v · (V - 128), ...
  double red_v, blue_u, green_u, green_v;
};

/// swscale's matrix for `colorspace` (an `AVColorSpace`) and range, as its YUV-to-RGB tables use it.
inline yuv_matrix yuv_to_rgb_matrix(int colorspace, bool full_range) {
  // {crv, cbu, cgu, cgv} in 16.16 fixed point, for chroma in limited range; the same table (and
  // the same fallback to BT.601 for unknown spaces) that sws_setColorspaceDetails gets on the CPU path.
  const int* c = sws_getCoefficients(colorspace);
  const double one = 65536.0;
  // Full range: luma as is, chroma's 224 levels stretched over 255 no more.
  const double chroma = full_range ? 224.0 / 255.0 : 1.0;
  return {full_range ? 0.0 : 16.0, full_range ? 1.0 : 255.0 / 219.0, c[0] / one * chroma, c[1] / one * chroma, c[2] / one * chroma,
          c[3] / one * chroma};
}

/// RGB24 `uint8 [out_h, out_w, 3]` (contiguous) from planes `y` `[H, W]`, `u`, `v` `[Hc, Wc]`
/// (`uint8`, or `int16` sample values of `bit_depth` bits), on their device, then turned
/// clockwise by `turn` degrees (0, 90, 180, 270) as the display matrix asks; `out_w` x `out_h`
/// is the size before the turn, as swscale writes it.
inline at::Tensor yuv_to_rgb(const at::Tensor& y, const at::Tensor& u, const at::Tensor& v, int bit_depth, int colorspace, bool full_range,
                             std::int64_t out_w, std::int64_t out_h, int turn = 0) {
  const std::int64_t h = y.size(0), w = y.size(1);
  // Deeper samples on the 8-bit scale, so one matrix serves every depth.
  const double scale = 1.0 / static_cast<double>(std::int64_t{1} << std::max(0, bit_depth - 8));
  const auto to_float = [&](const at::Tensor& p) { return scale == 1.0 ? p.to(at::kFloat) : p.to(at::kFloat).mul(scale); };
  // Each chroma sample over the luma block it covers (nearest, as swscale's unscaled converters),
  // cut to the luma size (odd sizes round the chroma plane up).
  const auto upsample = [&](const at::Tensor& p) {
    at::Tensor f = to_float(p);
    const std::int64_t sy = (h + p.size(0) - 1) / p.size(0), sx = (w + p.size(1) - 1) / p.size(1);
    if (sy > 1) f = f.repeat_interleave(sy, 0);
    if (sx > 1) f = f.repeat_interleave(sx, 1);
    return f.narrow(0, 0, h).narrow(1, 0, w);
  };
  const yuv_matrix m = yuv_to_rgb_matrix(colorspace, full_range);
  const at::Tensor luma = to_float(y).sub(m.luma_offset).mul(m.luma_gain);
  const at::Tensor cb = upsample(u).sub(128.0), cr = upsample(v).sub(128.0);
  const at::Tensor r = luma.add(cr, m.red_v);
  const at::Tensor g = luma.add(cb, -m.green_u).add(cr, -m.green_v);
  const at::Tensor b = luma.add(cb, m.blue_u);
  at::Tensor rgb = at::stack({r, g, b}, 0);  // [3, H, W]
  if (out_h != h || out_w != w) {
    rgb = at::_upsample_bicubic2d_aa(rgb.unsqueeze(0), {out_h, out_w}, /*align_corners=*/false).squeeze(0).round();
  } else if (!full_range) {
    // swscale's unscaled limited-range converter truncates its fixed-point sums: the same bias here
    // (measured on H.264 footage: max 2, mean 0.4, against rounding's max 3, mean 1.1).
    rgb = rgb.sub(0.5).floor();
  } else {
    rgb = rgb.round();
  }
  at::Tensor out = rgb.clamp(0, 255).to(at::kByte).permute({1, 2, 0});
  // rot90 turns counterclockwise for positive k; the display matrix's turn is clockwise.
  if (turn != 0) out = at::rot90(out, -turn / 90, {0, 1});
  return out.contiguous();
}

}  // namespace longform::detail
