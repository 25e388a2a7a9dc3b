// SPDX-License-Identifier: MIT
/// @file
/// `Clip` and `ClipBatch`: the unit that flows from samplers through transforms to a model, and
/// `SamplerState`, the resume point a clip carries.
///
/// Layout (stated once for the whole library):
/// - `Clip::data` is `[C, T, H, W]`, C = 3 (R, G, B), frames in the order of `Clip::frames`.
///   Straight from a sampler it is `uint8` (0..255): a permuted view of the decoded frames stacked
///   as `[T, H, W, C]`, so sampling copies no pixels. Transforms return `float`; the value-changing
///   ones (`Normalize`, `Standardize`, `ColorJitter`, …) first map `uint8` to `float` in [0, 1].
/// - `ClipBatch::data` is `[B, C, T, H, W]` `float`, contiguous.
/// - Tensors may live on any device; transforms keep the device they are given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include <longform/core/reflect.hpp>

namespace longform {

/// A sampler's resume point: `kind` names the sampler type, `values` is its whole state. Small,
/// plain and portable, so it serializes anywhere (JSON, a checkpoint tensor, a text file).
struct SamplerState {
  std::string kind;
  std::vector<std::int64_t> values;
  friend bool operator==(const SamplerState&, const SamplerState&) = default;
};

/// A clip of one video with its provenance.
struct Clip {
  at::Tensor data;                   ///< `[C, T, H, W]`; undefined when sampling indices only
  std::size_t video = 0;             ///< index of the video in its source
  std::string name;                  ///< the source's name for it (path, URL, `synthetic:…`)
  std::vector<std::int64_t> frames;  ///< frame index of each of the T frames, in tensor order
  std::vector<double> seconds;       ///< presentation time of each frame (`Frame::seconds`; index/fps only for readers without timestamps)
  SamplerState resume;               ///< sampler state right after this clip: restore it to continue after it
};

/// B clips stacked: `data` is `[B, C, T, H, W]`; `clips` keep the provenance (their `data` is empty).
struct ClipBatch {
  at::Tensor data;
  std::vector<Clip> clips;
  SamplerState resume;  ///< the state after the batch's last clip
};

}  // namespace longform

LONGFORM_REFLECT(longform::SamplerState, kind, values);
