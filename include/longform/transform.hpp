// SPDX-License-Identifier: MIT
/// @file
/// The transform family. Available transforms (compose with `|`) and when to use them:
///
/// - `Standardize` — each frame to mean 0, std 1 (the paper's normalization).
/// - `Normalize{mean, std}` — per-channel, for pretrained backbones (X3D: 0.45 / 0.225).
/// - `ToFloat` — `uint8` → `float` in [0, 1], when no value-changing transform does it.
/// - `Resize{h, w}`, `ShortSideScale{s}` — spatial size (prefer decoding at size, see resize.hpp).
/// - `CenterCrop{h, w}` — evaluation crop; `RandomResizedCrop{…}` — the SSL crop.
/// - `HorizontalFlip{p}`, `ColorJitter{…}`, `RandomGrayscale{p}` — SSL augmentations, one draw per clip.
/// - `FrameShuffle{p}` — temporal permutation (provenance follows).
/// - `ToDevice{device}` — pinned, non-blocking transfer to CUDA.
#pragma once

#include <longform/transform/center_crop.hpp>
#include <longform/transform/color_jitter.hpp>
#include <longform/transform/compose.hpp>
#include <longform/transform/concepts.hpp>
#include <longform/transform/flip.hpp>
#include <longform/transform/frame_shuffle.hpp>
#include <longform/transform/grayscale.hpp>
#include <longform/transform/normalize.hpp>
#include <longform/transform/random_resized_crop.hpp>
#include <longform/transform/resize.hpp>
#include <longform/transform/standardize.hpp>
#include <longform/transform/to_device.hpp>
#include <longform/transform/to_float.hpp>
