// SPDX-License-Identifier: MIT
/// @file
/// HMDB51's official splits (`test_train_splits.rar` of the data set's site), read from `testTrainMulti_7030_splits/`: one file
/// `<class>_test_split<N>.txt` per class and split, each line `<video>.avi <tag>` with tag 1 = train,
/// 2 = test, 0 = unused (lines may end in a space). Class ids are the sorted class names
/// (torchvision's order); videos are `ROOT/<class>/<video>.avi`. Malformed input is a
/// `split_error` naming the file and line.
///
///     auto split = longform::hmdb51_split("hmdb51", 1);   // lists in hmdb51/testTrainMulti_7030_splits or hmdb51/
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <longform/core/reflect.hpp>
#include <longform/data/action_split.hpp>
#include <longform/data/ucf101.hpp>

namespace longform {

/// Where `hmdb51_split` finds the split files and what it checks.
struct Hmdb51Options {
  std::filesystem::path lists;  ///< folder of the *_test_splitN.txt files; empty: ROOT/testTrainMulti_7030_splits if present, else ROOT
  bool check_files = true;      ///< every train/test video must exist under the root
};

/// HMDB51 split `split` (1, 2 or 3) under `root`. @throws split_error naming the file and line.
[[nodiscard]] inline ActionSplit hmdb51_split(const std::filesystem::path& root, int split, const Hmdb51Options& options = {}) {
  const auto lists = detail::lists_folder(root, options.lists, "testTrainMulti_7030_splits");
  if (split < 1 || split > 3) throw split_error(lists, 0, "HMDB51 has splits 1, 2 and 3 (asked for " + std::to_string(split) + ")");
  const std::string suffix = "_test_split" + std::to_string(split) + ".txt";
  std::vector<std::pair<std::string, std::filesystem::path>> files;  // class, file
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(lists, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > suffix.size() && name.ends_with(suffix)) {
      files.emplace_back(name.substr(0, name.size() - suffix.size()), entry.path());
    }
  }
  if (ec) throw split_error(lists, 0, "cannot list the split folder (" + ec.message() + ")");
  if (files.empty()) throw split_error(lists, 0, "no *" + suffix + " files");
  std::sort(files.begin(), files.end());

  ActionSplit out{.dataset = "hmdb51", .split = split};
  for (std::size_t c = 0; c < files.size(); ++c) {
    const auto& [cls, file] = files[c];
    out.classes.push_back(cls);
    const auto lines = detail::split_file_lines(file);
    for (std::size_t n = 0; n < lines.size(); ++n) {
      const auto f = detail::fields(lines[n]);
      if (f.empty()) continue;
      const std::int64_t tag = f.size() == 2 ? detail::parse_index(f[1]) : -1;
      if (tag < 0 || tag > 2) throw split_error(file, n + 1, "expected '<video>.avi <0|1|2>', got '" + lines[n] + "'");
      if (tag == 0) continue;
      const auto path = root / cls / std::string(f[0]);
      if (options.check_files && !std::filesystem::exists(path)) throw split_error(file, n + 1, "video " + path.string() + " does not exist");
      (tag == 1 ? out.train : out.test).push_back({path, static_cast<std::int64_t>(c)});
    }
  }
  if (out.train.empty() || out.test.empty()) throw split_error(lists, 0, "split " + std::to_string(split) + " has no train or no test videos");
  return out;
}

}  // namespace longform

LONGFORM_REFLECT(longform::Hmdb51Options, lists, check_files);
