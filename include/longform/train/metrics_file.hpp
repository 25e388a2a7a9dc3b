// SPDX-License-Identifier: MIT
/// @file
/// `MetricsFile`: `metrics.jsonl`, one JSON object per step with the `StepRecord`'s members in
/// order, a default observer of every `Pretrainer` with an `out_dir` (train/observer.hpp).
///
///     {"step":1,"loss":0.8123,"lr":5e-05,"grad_norm":1.93,"clips_per_s":41.2,"step_s":0.19,"data_wait_share":0.02,...}
///
/// Each line is flushed when written, so `tail -f` and a crash both see every reported step. On
/// resume after step k, the lines of steps after k (logged by a process that died after its last
/// checkpoint; they will be trained again) and any torn line are dropped, and the kept ones are
/// rewritten atomically: a run killed at that moment keeps its history.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include <longform/core/error.hpp>
#include <longform/core/json.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/observer.hpp>

namespace longform {

/// Writes `metrics.jsonl` (see the file comment).
class MetricsFile {
 public:
  explicit MetricsFile(std::filesystem::path path) : path_(std::move(path)) {}

  /// Keeps the lines of steps up to `step` (none for a fresh run) and opens the file for appending.
  /// @throws config_error naming the file when it cannot be written.
  void on_resume(std::int64_t step) {
    std::string kept;
    if (step > 0) {
      std::ifstream in(path_);
      for (std::string line; std::getline(in, line);) {
        const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);  // a torn line is discarded
        const auto s = j.is_object() ? j.find("step") : j.end();
        if (s != j.end() && s->is_number_integer() && s->get<std::int64_t>() <= step) kept += line + '\n';
      }
    }
    write_atomically(path_, [&](const ByteSink& sink) { sink(kept.data(), kept.size()); });
    file_.reset(std::fopen(path_.c_str(), "a"));
    if (!file_) throw config_error(path_.string() + ": cannot open for writing");
  }

  /// Appends the step's line. A file not resumed first starts empty.
  /// @throws config_error naming the file when the line cannot be written (a full disk).
  void on_step(const StepRecord& record) {
    if (!file_) on_resume(0);
    const std::string line = to_json(record) + '\n';
    if (std::fputs(line.c_str(), file_.get()) < 0 || std::fflush(file_.get()) != 0) {
      throw config_error(path_.string() + ": cannot write the metrics of step " + std::to_string(record.step));
    }
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  struct closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::filesystem::path path_;
  std::unique_ptr<std::FILE, closer> file_;
};

}  // namespace longform
