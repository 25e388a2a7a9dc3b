// SPDX-License-Identifier: MIT
// Shared helpers of the objective tests: batches of SyntheticVideo clips as the pipeline gives
// them (per-frame standardised float [B, 3, T, H, W]), tiny backbones, golden numbers.
#pragma once

#include <longform/backbone/x3d.hpp>
#include <longform/core/clip.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/transform/standardize.hpp>

#include <ATen/ops/arange.h>
#include <ATen/ops/sin.h>
#include <ATen/ops/stack.h>
#include <nlohmann/json.hpp>

#include "../golden.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace longform::test {

inline std::filesystem::path golden_file(const std::string& name) { return golden_path(name); }

inline const nlohmann::json& objective_golden() {
  static const nlohmann::json j = golden_json("objectives.json");
  return j;
}

// x[i, j] = scale · sin(a·i + b·j + c) in float64, as make_objective_golden.py's `grid`;
// spec = [rows, cols, a, b, c(, scale)].
inline at::Tensor grid(const nlohmann::json& spec) {
  const auto rows = spec[0].get<std::int64_t>(), cols = spec[1].get<std::int64_t>();
  const auto i = at::arange(rows, at::kDouble).unsqueeze(1), j = at::arange(cols, at::kDouble).unsqueeze(0);
  auto x = at::sin(i * spec[2].get<double>() + j * spec[3].get<double>() + spec[4].get<double>());
  return spec.size() > 5 ? x * spec[5].get<double>() : x;
}

// `batch` clips of `frames` consecutive frames (stride `stride`) from a side×side synthetic video,
// starting at clip `first`, standardised per frame as the pipeline does.
inline ClipBatch synthetic_batch(std::int64_t batch, std::int64_t first = 0, std::int64_t frames = 4, std::int64_t side = 32, std::int64_t stride = 2,
                                 std::uint64_t seed = 3) {
  SyntheticVideo video({.seed = seed, .frames = 2000, .width = side, .height = side});
  auto reader = video.open(0);
  ClipBatch out;
  std::vector<at::Tensor> clips;
  for (std::int64_t b = 0; b < batch; ++b) {
    reader.seek_frame((first + b) * frames * stride);
    std::vector<at::Tensor> f;
    for (std::int64_t t = 0; t < frames * stride; ++t) {
      auto frame = reader.next();
      if (t % stride == 0) f.push_back(frame->rgb);
    }
    clips.push_back(Standardize{}(at::stack(f).permute({3, 0, 1, 2})));
  }
  out.data = at::stack(clips).contiguous();
  return out;
}

// X3D at the width and depth of the golden tiny model (x3d_tiny.pyth), at `frames`×`side`².
inline X3DOptions tiny_x3d(X3DOutput output, std::int64_t frames = 4, std::int64_t side = 32) {
  return {.num_classes = 10, .frames = frames, .crop_size = side, .output = output, .width_factor = 1.0, .depth_factor = 1.0, .head_dim_out = 128};
}

}  // namespace longform::test
