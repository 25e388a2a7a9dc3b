// SPDX-License-Identifier: MIT
// The backbones the `longform` commands build by name (--arch), one table for all of them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <longform/backbone/vit.hpp>
#include <longform/backbone/x3d.hpp>

namespace longform::cli {

/// X3D presets by name.
inline const std::map<std::string, X3DOptions (*)()>& x3d_presets() {
  static const std::map<std::string, X3DOptions (*)()> table{
      {"x3d_tiny", x3d_tiny}, {"x3d_xs", x3d_xs}, {"x3d_s", x3d_s}, {"x3d_m", x3d_m}, {"x3d_l", x3d_l}};
  return table;
}

/// Video ViT presets by name.
inline const std::map<std::string, VideoViTOptions (*)()>& vit_presets() {
  static const std::map<std::string, VideoViTOptions (*)()> table{{"vit_tiny", vit_tiny}, {"vit_s", vit_s}, {"vit_b", vit_b}};
  return table;
}

/// Every --arch value.
inline std::vector<std::string> arch_names() {
  std::vector<std::string> out;
  for (const auto& [name, make] : x3d_presets()) out.push_back(name);
  for (const auto& [name, make] : vit_presets()) out.push_back(name);
  return out;
}

/// The X3D preset `name` for `frames × size²` clips, or nothing when `name` is no X3D.
inline std::optional<X3DOptions> x3d_preset(const std::string& name, std::int64_t frames, std::int64_t size) {
  const auto it = x3d_presets().find(name);
  if (it == x3d_presets().end()) return std::nullopt;
  X3DOptions o = it->second();
  o.frames = frames;
  o.crop_size = size;
  return o;
}

/// The ViT preset `name` for `frames × size²` clips, or nothing when `name` is no ViT.
inline std::optional<VideoViTOptions> vit_preset(const std::string& name, std::int64_t frames, std::int64_t size) {
  const auto it = vit_presets().find(name);
  if (it == vit_presets().end()) return std::nullopt;
  VideoViTOptions o = it->second();
  o.frames = frames;
  o.image_size = size;
  return o;
}

}  // namespace longform::cli
