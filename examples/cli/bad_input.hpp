// SPDX-License-Identifier: MIT
// The one rule of every `longform` command for inputs it cannot use (README, "Bad input"): the good
// ones are processed; each bad one is reported on stderr as `longform: skipped PATH: REASON` when
// found and listed under "skipped" in the command's summary JSON (where it prints one); the exit
// status is 0 when nothing was skipped, 3 when something was but work was done, 1 when nothing
// could be done (the command then ends with an error).
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/core/error.hpp>
#include <longform/core/telemetry.hpp>

namespace longform::cli {

/// Exit status of a command that skipped some of its inputs and processed the others.
inline constexpr int exit_skipped = 3;

/// The exit status `main` returns once the command's callback is done (0 unless a command sets it).
inline int& exit_status() {
  static int status = 0;
  return status;
}

/// Sets the exit status from a summary's "skipped" list (for commands whose work is a function
/// shared with others: pretrain, finetune).
inline void exit_status_from(const nlohmann::json& skipped) {
  if (!skipped.empty()) exit_status() = exit_skipped;
}

/// The inputs one command skipped.
class SkippedInputs {
 public:
  /// Reports `path` on stderr and records it.
  void skip(std::string path, std::string reason) {
    std::fprintf(stderr, "longform: skipped %s: %s\n", path.c_str(), reason.c_str());
    list_.push_back({std::move(path), std::move(reason)});
  }
  /// Records an input the library has already reported on stderr (`Pretrainer`).
  void record(SkippedVideo s) { list_.push_back(std::move(s)); }
  /// Reports and records the videos `telemetry` skipped since the last call.
  void take(const Telemetry& telemetry) {
    for (auto& s : telemetry.skipped(taken_)) {
      ++taken_;
      skip(std::move(s.video), std::move(s.error));
    }
  }

  [[nodiscard]] bool empty() const noexcept { return list_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return list_.size(); }
  [[nodiscard]] bool contains(const std::string& path) const {
    for (const auto& s : list_)
      if (s.video == path) return true;
    return false;
  }

  /// The summary's "skipped" entry: `[{"path": ..., "error": ...}, ...]`.
  [[nodiscard]] nlohmann::json json() const {
    auto out = nlohmann::json::array();
    for (const auto& s : list_) out.push_back({{"path", s.video}, {"error", s.error}});
    return out;
  }

  /// Sets the exit status from what was skipped.
  /// @throws config_error saying `nothing` when no input could be processed (`processed` false).
  void finish(bool processed, const std::string& nothing) const {
    if (!processed) throw config_error(nothing + (list_.empty() ? "" : " (" + std::to_string(list_.size()) + " skipped)"));
    exit_status_from(json());
  }

 private:
  std::vector<SkippedVideo> list_;
  std::size_t taken_ = 0;  // entries of the telemetry's list already taken
};

}  // namespace longform::cli
