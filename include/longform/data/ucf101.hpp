// SPDX-License-Identifier: MIT
/// @file
/// UCF101's official splits (the `ucfTrainTestlist` of the data set's site), read from `ucfTrainTestlist/`:
///
/// | file | line |
/// |---|---|
/// | `classInd.txt` | `<1-based id> <ClassName>` |
/// | `trainlist0N.txt` | `<ClassName>/<video>.avi <1-based id>` |
/// | `testlist0N.txt` | `<ClassName>/<video>.avi` (the label is the folder's class) |
///
/// Class ids are classInd's minus one; a train line's label must agree with its folder's class.
/// Video paths are relative to the data set root (`UCF-101/`). The official files end lines with
/// CRLF; that and blank lines are accepted, anything else malformed is a `split_error` naming the
/// file and line.
///
///     auto split = longform::ucf101_split("UCF-101", 1);   // lists in UCF-101/ucfTrainTestlist or UCF-101/
///     auto split = longform::ucf101_split("UCF-101", 1, {.lists = "ucfTrainTestlist"});
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <longform/core/reflect.hpp>
#include <longform/data/action_split.hpp>

namespace longform {

/// Where `ucf101_split` finds the split files and what it checks.
struct Ucf101Options {
  std::filesystem::path lists;  ///< folder of classInd.txt etc.; empty: ROOT/ucfTrainTestlist if present, else ROOT
  bool check_files = true;      ///< every listed video must exist under the root (else `split_error` at its line)
};

namespace detail {
inline std::filesystem::path lists_folder(const std::filesystem::path& root, const std::filesystem::path& given, const char* official) {
  if (!given.empty()) return given;
  return std::filesystem::is_directory(root / official) ? root / official : root;
}
}  // namespace detail

/// UCF101 split `split` (1, 2 or 3) under `root`. @throws split_error naming the file and line.
[[nodiscard]] inline ActionSplit ucf101_split(const std::filesystem::path& root, int split, const Ucf101Options& options = {}) {
  const auto lists = detail::lists_folder(root, options.lists, "ucfTrainTestlist");
  if (split < 1 || split > 3) throw split_error(lists, 0, "UCF101 has splits 1, 2 and 3 (asked for " + std::to_string(split) + ")");
  ActionSplit out{.dataset = "ucf101", .split = split};

  // classInd.txt: ids 1..N, each once, in any order.
  const auto class_file = lists / "classInd.txt";
  std::map<std::int64_t, std::string> by_id;
  std::map<std::string, std::int64_t> id_of;
  const auto class_lines = detail::split_file_lines(class_file);
  for (std::size_t n = 0; n < class_lines.size(); ++n) {
    const auto f = detail::fields(class_lines[n]);
    if (f.empty()) continue;
    const std::int64_t id = f.size() == 2 ? detail::parse_index(f[0]) : -1;
    if (id < 1) throw split_error(class_file, n + 1, "expected '<1-based id> <ClassName>', got '" + class_lines[n] + "'");
    const std::string name(f[1]);
    if (by_id.contains(id)) throw split_error(class_file, n + 1, "class id " + std::to_string(id) + " appears twice");
    if (id_of.contains(name)) throw split_error(class_file, n + 1, "class '" + name + "' appears twice");
    by_id[id] = name;
    id_of[name] = id - 1;
  }
  if (by_id.empty()) throw split_error(class_file, 0, "no classes");
  if (by_id.rbegin()->first != static_cast<std::int64_t>(by_id.size())) {
    throw split_error(class_file, 0, "class ids must be 1.." + std::to_string(by_id.size()) + " without gaps");
  }
  for (const auto& [id, name] : by_id) out.classes.push_back(name);

  const auto read_list = [&](const std::string& stem, bool labelled) {
    char name[32];
    std::snprintf(name, sizeof name, "%slist%02d.txt", stem.c_str(), split);
    const auto file = lists / name;
    std::vector<LabeledVideo> videos;
    const auto lines = detail::split_file_lines(file);
    for (std::size_t n = 0; n < lines.size(); ++n) {
      const auto f = detail::fields(lines[n]);
      if (f.empty()) continue;
      const auto where = [&](const std::string& detail) { return split_error(file, n + 1, detail); };
      if (f.size() > 2 || (labelled && f.size() != 2)) {
        throw where(std::string("expected '<ClassName>/<video>.avi") + (labelled ? " <1-based id>'" : "'") + ", got '" + lines[n] + "'");
      }
      const std::string rel(f[0]);
      const auto slash = rel.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == rel.size()) throw where("'" + rel + "' is not '<ClassName>/<video>'");
      const auto cls = id_of.find(rel.substr(0, slash));
      if (cls == id_of.end()) throw where("class folder '" + rel.substr(0, slash) + "' is not in " + class_file.string());
      if (f.size() == 2) {
        const std::int64_t id = detail::parse_index(f[1]);
        if (id < 1 || id > static_cast<std::int64_t>(out.classes.size()))
          throw where("label '" + std::string(f[1]) + "' is not a class id of classInd.txt");
        if (id - 1 != cls->second) {
          throw where("label " + std::string(f[1]) + " (" + out.classes[static_cast<std::size_t>(id - 1)] + ") disagrees with the folder '" +
                      cls->first + "'");
        }
      }
      const auto path = root / rel;
      if (options.check_files && !std::filesystem::exists(path)) throw where("video " + path.string() + " does not exist");
      videos.push_back({path, cls->second});
    }
    if (videos.empty()) throw split_error(file, 0, "lists no videos");
    return videos;
  };
  out.train = read_list("train", true);
  out.test = read_list("test", false);
  return out;
}

}  // namespace longform

LONGFORM_REFLECT(longform::Ucf101Options, lists, check_files);
