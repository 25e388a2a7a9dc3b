// SPDX-License-Identifier: MIT
// Golden files written by the Python references in tests/reference/ (committed under golden/).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace longform::test {

/// Path of a committed golden file.
inline std::filesystem::path golden_path(const std::string& name) {
  return std::filesystem::path(LONGFORM_SOURCE_DIR) / "tests/reference/golden" / name;
}

/// A golden JSON file, parsed.
inline nlohmann::json golden_json(const std::string& name) {
  std::ifstream in(golden_path(name));
  return nlohmann::json::parse(in);
}

}  // namespace longform::test
