// SPDX-License-Identifier: MIT
/// @file
/// `ActionSplit`: one train/test split of a labelled action data set (UCF101, HMDB51, a folder per
/// class, a CSV list), as the official split files give it — never re-split. `split_error` is what
/// a malformed split file throws: it names the file and the line.
///
///     auto split = longform::ucf101_split("UCF-101/", 1);       // data/ucf101.hpp
///     for (const auto& v : split.train) use(v.path, v.label, split.classes[v.label]);
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <longform/core/error.hpp>

namespace longform {

/// One labelled video: its file and its class id (0-based, an index into `ActionSplit::classes`).
struct LabeledVideo {
  std::filesystem::path path;
  std::int64_t label = 0;
  friend bool operator==(const LabeledVideo&, const LabeledVideo&) = default;
};

/// A data set's train and test videos for one split, and its class names in id order.
struct ActionSplit {
  std::string dataset;               ///< "ucf101", "hmdb51", "folder", "csv"
  int split = 1;                     ///< the official split number (1-based; 1 for sets with one split)
  std::vector<std::string> classes;  ///< class id -> name
  std::vector<LabeledVideo> train;   ///< in the split file's order
  std::vector<LabeledVideo> test;

  [[nodiscard]] std::size_t num_classes() const noexcept { return classes.size(); }
};

/// A split file (or folder) is malformed. `what()` reads "FILE:LINE: DETAIL" (no line: "FILE: DETAIL").
class split_error : public config_error {
 public:
  split_error(std::filesystem::path file, std::size_t line, const std::string& detail)
      : config_error(file.string() + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + detail), file_(std::move(file)), line_(line) {}
  /// The split file (or folder) at fault.
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  /// Its 1-based line, 0 when the fault is the file as a whole.
  [[nodiscard]] std::size_t line() const noexcept { return line_; }

 private:
  std::filesystem::path file_;
  std::size_t line_;
};

namespace detail {

/// The text lines of `file` with trailing white space (the `\r` of the official CRLF lists, a
/// trailing space of HMDB51's lines) removed; blank lines kept, so line numbers stay right.
/// @throws split_error when the file cannot be read.
inline std::vector<std::string> split_file_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw split_error(file, 0, "cannot open the split file");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

/// `s` without leading and trailing spaces, tabs, CRs.
[[nodiscard]] inline std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

/// White-space separated fields of `s`.
[[nodiscard]] inline std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    const std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

/// A whole decimal integer (no sign, no trailing text), or -1.
[[nodiscard]] inline std::int64_t parse_index(std::string_view s) {
  if (s.empty() || s.size() > 18) return -1;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace detail
}  // namespace longform
