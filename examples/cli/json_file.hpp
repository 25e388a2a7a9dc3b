// SPDX-License-Identifier: MIT
// Config files of the `longform` commands: JSON objects bound onto reflected structs by name
// (core/json.hpp), every error naming the file.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include <longform/core/error.hpp>
#include <longform/core/json.hpp>

namespace longform::cli {

/// The JSON in `file`. @throws config_error naming the file when it cannot be opened or parsed.
inline nlohmann::json read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw config_error(file.string() + ": cannot open the config file");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw config_error(file.string() + ": not JSON (" + e.what() + ")");
  }
}

/// Sets the targets' members from the object `j` of `file` (`longform::from_json_into`).
/// @throws config_error "FILE: unknown key 'K' in WHERE (accepted: ...)" or "FILE: TYPE::MEMBER: expected ..., got ...".
template <class... T>
void bind_json(const nlohmann::json& j, const std::filesystem::path& file, const std::string& where, T&... targets) {
  try {
    from_json_into(j, where, targets...);
  } catch (const json_error& e) {
    throw config_error(file.string() + ": " + e.what());
  }
}

}  // namespace longform::cli
