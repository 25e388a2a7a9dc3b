// SPDX-License-Identifier: MIT
// Shared helpers of the backbone tests: paths of the golden files made by
// tests/reference/make_backbone_golden.py, and its JSON summary.
#pragma once

#include <longform/backbone/weights.hpp>

#include <nlohmann/json.hpp>

#include "../golden.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace longform::test {

inline std::filesystem::path golden(const std::string& name) { return golden_path(name); }

inline const nlohmann::json& golden_summary() {
  static const nlohmann::json summary = golden_json("backbones.json");
  return summary;
}

// The (key, shape) list of a state dict, in order, as the JSON spells it.
inline nlohmann::json key_list(const StateDict& sd) {
  auto out = nlohmann::json::array();
  for (const auto& item : sd) out.push_back({item.key(), item.value().sizes().vec()});
  return out;
}

}  // namespace longform::test
