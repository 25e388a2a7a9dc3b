// SPDX-License-Identifier: MIT
/// @file
/// Action data sets without official split files of their own:
///
/// - `folder_split(ROOT)`: `ROOT/train/<class>/<video>` and `ROOT/test/<class>/<video>`, class ids
///   the sorted class folder names of `train/` (a test class must be one of them); a class folder's
///   videos are its files with a video extension (`VideoList::is_video_file_name`), so a README or
///   a thumbnail beside them is not taken for one;
/// - `csv_split(TRAIN_CSV, TEST_CSV, ROOT)`: lines `<path>,<class name>` (an optional header
///   `path,label`), paths relative to ROOT; class ids the sorted names of the train list.
///
/// Malformed input is a `split_error` naming the file (or folder) and line.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <longform/data/action_split.hpp>
#include <longform/source/video_list.hpp>

namespace longform {

namespace detail {
// Sorted non-hidden entries of `dir` that are folders (`folders`) or regular files with a video extension.
inline std::vector<std::filesystem::path> sorted_entries(const std::filesystem::path& dir, bool folders) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().filename().string().starts_with('.')) continue;
    if (folders ? e.is_directory() : e.is_regular_file() && VideoList::is_video_file_name(e.path())) out.push_back(e.path());
  }
  if (ec) throw split_error(dir, 0, "cannot list the folder (" + ec.message() + ")");
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<LabeledVideo> labelled(const std::vector<std::pair<std::filesystem::path, std::string>>& items,
                                          const std::vector<std::string>& classes, const std::filesystem::path& where,
                                          const std::vector<std::size_t>& lines) {
  std::vector<LabeledVideo> out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto it = std::lower_bound(classes.begin(), classes.end(), items[i].second);
    if (it == classes.end() || *it != items[i].second) {
      throw split_error(where, lines.empty() ? 0 : lines[i], "class '" + items[i].second + "' has no training videos");
    }
    out.push_back({items[i].first, static_cast<std::int64_t>(it - classes.begin())});
  }
  return out;
}
}  // namespace detail

/// `root/train/<class>/*` and `root/test/<class>/*`. @throws split_error naming the folder.
[[nodiscard]] inline ActionSplit folder_split(const std::filesystem::path& root) {
  ActionSplit out{.dataset = "folder", .split = 1};
  auto scan = [&](const char* part) {
    const auto dir = root / part;
    if (!std::filesystem::is_directory(dir)) throw split_error(dir, 0, "no such folder (expected ROOT/train/<class>/ and ROOT/test/<class>/)");
    std::vector<std::pair<std::filesystem::path, std::string>> items;
    for (const auto& cls : detail::sorted_entries(dir, true)) {
      for (const auto& video : detail::sorted_entries(cls, false)) items.emplace_back(video, cls.filename().string());
    }
    if (items.empty()) throw split_error(dir, 0, "holds no videos in class folders");
    return items;
  };
  const auto train = scan("train"), test = scan("test");
  for (const auto& [path, cls] : train)
    if (out.classes.empty() || out.classes.back() != cls) out.classes.push_back(cls);
  out.train = detail::labelled(train, out.classes, root / "train", {});
  out.test = detail::labelled(test, out.classes, root / "test", {});
  return out;
}

/// Two CSV lists `<path>,<class name>`. @throws split_error naming the file and line.
[[nodiscard]] inline ActionSplit csv_split(const std::filesystem::path& train_csv, const std::filesystem::path& test_csv,
                                           const std::filesystem::path& root = {}) {
  auto read = [&](const std::filesystem::path& file, std::vector<std::size_t>& numbers) {
    std::vector<std::pair<std::filesystem::path, std::string>> items;
    const auto lines = detail::split_file_lines(file);
    for (std::size_t n = 0; n < lines.size(); ++n) {
      const auto line = detail::trim(lines[n]);
      if (line.empty() || (n == 0 && line == "path,label")) continue;
      const auto comma = line.rfind(',');
      const auto path = comma == std::string_view::npos ? std::string_view{} : detail::trim(line.substr(0, comma));
      const auto label = comma == std::string_view::npos ? std::string_view{} : detail::trim(line.substr(comma + 1));
      if (path.empty() || label.empty()) throw split_error(file, n + 1, "expected '<path>,<class name>', got '" + lines[n] + "'");
      items.emplace_back(root / std::string(path), std::string(label));
      numbers.push_back(n + 1);
    }
    if (items.empty()) throw split_error(file, 0, "lists no videos");
    return items;
  };
  std::vector<std::size_t> train_lines, test_lines;
  const auto train = read(train_csv, train_lines), test = read(test_csv, test_lines);
  ActionSplit out{.dataset = "csv", .split = 1};
  for (const auto& [path, cls] : train) out.classes.push_back(cls);
  std::sort(out.classes.begin(), out.classes.end());
  out.classes.erase(std::unique(out.classes.begin(), out.classes.end()), out.classes.end());
  out.train = detail::labelled(train, out.classes, train_csv, train_lines);
  out.test = detail::labelled(test, out.classes, test_csv, test_lines);
  return out;
}

}  // namespace longform
