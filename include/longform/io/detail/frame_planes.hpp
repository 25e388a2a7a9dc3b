// SPDX-License-Identifier: MIT
/// @file
/// A decoded `AVFrame`'s Y, U and V components as tensors, wrapped in place (no copy) on the
/// frame's device: host memory for a software frame, CUDA memory for an NVDEC one (`AV_PIX_FMT_CUDA`,
/// whose `data[i]` are `CUdeviceptr`s and whose layout is its frames context's `sw_format`).
// IWYU pragma: private, include <longform/io/video_reader.hpp>
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>

#include <longform/core/error.hpp>
#include <longform/io/detail/ffmpeg.hpp>

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

namespace longform::detail {

/// Views of one frame's components: `uint8` (8-bit) or `int16` sample values (deeper), see `YuvPlanes`.
struct frame_planes {
  at::Tensor y, u, v;
  int bit_depth = 8;
};

/// The layout of `frame`'s pixels: its own format, or for a hardware frame its frames context's `sw_format`.
inline AVPixelFormat frame_layout(const AVFrame& frame) {
  if (frame.hw_frames_ctx) return reinterpret_cast<const AVHWFramesContext*>(frame.hw_frames_ctx->data)->sw_format;
  return static_cast<AVPixelFormat>(frame.format);
}

/// Wraps `frame`'s luma and chroma as tensors on `device` (CPU for a software frame, the decoding
/// GPU for a CUDA frame). Each view's deleter holds a reference to the frame's buffers, so the
/// views stay valid after `frame` is unreferenced. Any YUV layout FFmpeg describes is read:
/// planar (yuv420p, yuv444p10le, ...), semi-planar (NV12, P010, P016: chroma interleaved, read
/// with a step of 2), 8 to 16 bits, little-endian, LSB- or MSB-aligned (the descriptor's shift).
/// @throws decode_error naming `path` for a layout that is not YUV with three components.
inline frame_planes wrap_frame_planes(const AVFrame& frame, at::Device device, const std::string& path) {
  const AVPixelFormat layout = frame_layout(frame);
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(layout);
  const char* name = d ? d->name : "unknown";
  if (!d || d->nb_components < 3 ||
      (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT))) {
    throw decode_error(path, "read the decoded planes", std::string("pixel format ") + name + " is not YUV planes");
  }
  const int depth = d->comp[0].depth;
  const std::int64_t element = depth > 8 ? 2 : 1;
  // One reference to the frame's buffers, shared by the three views and dropped with the last.
  AVFrame* held = av_frame_clone(&frame);
  if (!held) throw std::bad_alloc();
  const std::shared_ptr<AVFrame> keep(held, [](AVFrame* f) { av_frame_free(&f); });
  const auto component = [&](int c) {
    const AVComponentDescriptor& comp = d->comp[c];
    const bool chroma = c == 1 || c == 2;
    const std::int64_t rows = chroma ? AV_CEIL_RSHIFT(frame.height, d->log2_chroma_h) : frame.height;
    const std::int64_t cols = chroma ? AV_CEIL_RSHIFT(frame.width, d->log2_chroma_w) : frame.width;
    const std::int64_t pitch = frame.linesize[comp.plane];
    if (comp.depth != depth || pitch <= 0 || pitch % element != 0 || comp.offset % element != 0 || comp.step % element != 0) {
      throw decode_error(path, "read the decoded planes", std::string("pixel format ") + name + " has an unsupported plane layout");
    }
    auto* base = held->data[comp.plane] + comp.offset;
    at::Tensor t = at::from_blob(
        base, {rows, cols}, {pitch / element, comp.step / element}, [keep](void*) {},
        at::TensorOptions(element == 2 ? at::kShort : at::kByte).device(device));
    if (element == 2) {
      // 16-bit containers read as int16: back to the unsigned value, then down to the sample.
      t = t.to(at::kInt).bitwise_and(0xFFFF);
      if (comp.shift > 0) t = t.bitwise_right_shift(comp.shift);
      t = t.to(at::kShort);
    }
    return t;
  };
  return {component(0), component(1), component(2), depth};
}

}  // namespace longform::detail
