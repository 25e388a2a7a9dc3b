// SPDX-License-Identifier: MIT
/// @file
/// `holdout_videos`: which training videos to set aside to validate a choice (a linear probe's
/// weight decay) without touching the test set. A split's test videos come from groups the training
/// set never saw (UCF101's groups: clips cut from one long video, same actors and scene), so the
/// held-out part must too, or it rewards features that recognise a group's look: when every
/// training video is named UCF101's way (`v_<Class>_g<GG>_c<CC>`), whole groups are held out, the
/// highest-numbered ones. Otherwise every k-th video of each class is.
///
///     auto held_out = longform::holdout_videos(split.train);   // true = validation
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <longform/data/action_split.hpp>

namespace longform {

/// The group of a video named UCF101's way (`v_ApplyEyeMakeup_g08_c01.avi` -> 8), if it is.
[[nodiscard]] inline std::optional<int> ucf101_group(const LabeledVideo& video) {
  const std::string name = video.path.stem().string();
  const auto g = name.rfind("_g");
  if (name.rfind("v_", 0) != 0 || g == std::string::npos || g + 4 >= name.size() || name.compare(g + 4, 2, "_c") != 0) return std::nullopt;
  const std::string digits = name.substr(g + 2, 2);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoi(digits);
}

/// Marks about `fraction` of `videos` as held out: whole groups (at least one, never all) when all
/// are named UCF101's way, else every ⌈1/fraction⌉-th video of each class (none of a class with fewer).
[[nodiscard]] inline std::vector<bool> holdout_videos(const std::vector<LabeledVideo>& videos, double fraction = 0.2) {
  std::vector<bool> held(videos.size(), false);
  if (videos.size() < 2 || !(fraction > 0 && fraction < 1)) return held;
  std::vector<std::optional<int>> groups;
  for (const auto& v : videos) groups.push_back(ucf101_group(v));
  const bool grouped = std::all_of(groups.begin(), groups.end(), [](const auto& g) { return g.has_value(); });
  if (grouped) {
    std::set<int> names;
    for (const auto& g : groups) names.insert(*g);
    if (names.size() >= 2) {
      const auto count =
          std::clamp<std::size_t>(static_cast<std::size_t>(std::lround(fraction * static_cast<double>(names.size()))), 1, names.size() - 1);
      const int first_held = *std::next(names.begin(), static_cast<std::ptrdiff_t>(names.size() - count));
      for (std::size_t i = 0; i < videos.size(); ++i) held[i] = *groups[i] >= first_held;
      return held;
    }
  }
  const auto every = static_cast<std::int64_t>(std::ceil(1 / fraction));
  std::map<std::int64_t, std::int64_t> seen;  // per class
  for (std::size_t i = 0; i < videos.size(); ++i) held[i] = seen[videos[i].label]++ % every == every - 1;
  return held;
}

}  // namespace longform
