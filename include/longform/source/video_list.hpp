// SPDX-License-Identifier: MIT
/// @file
/// `VideoList`: many video files in a deterministic order, from a directory or a list file,
/// splittable across ranks with `shard(rank, world)`.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <longform/core/error.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/sharded.hpp>

namespace longform {

/// A list of video files as a `VideoSource`. Order is deterministic: a directory scan is sorted
/// by path; a list file keeps its order.
class VideoList {
 public:
  using source_concept = source_tag;

  /// File extensions a directory scan picks up, compared without case: the video containers FFmpeg
  /// reads (camcorder `.MTS`/`.m2ts`, phone `.3gp`, broadcast `.mxf`, ...), no image or audio formats.
  static constexpr const char* video_extensions[] = {".3g2",  ".3gp",  ".asf", ".avi",  ".divx", ".dv",   ".f4v",  ".flv", ".h264",
                                                     ".h265", ".hevc", ".ivf", ".m1v",  ".m2t",  ".m2ts", ".m2v",  ".m4v", ".mjpeg",
                                                     ".mkv",  ".mov",  ".mp4", ".mpe",  ".mpeg", ".mpg",  ".mts",  ".mxf", ".nut",
                                                     ".ogv",  ".qt",   ".rm",  ".rmvb", ".ts",   ".vob",  ".webm", ".wmv", ".y4m"};

  /// Whether `p`'s extension is one of `video_extensions` (any case): what a folder scan takes.
  static bool is_video_file_name(const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::find(std::begin(video_extensions), std::end(video_extensions), ext) != std::end(video_extensions);
  }

  /// A list of paths as given. @throws config_error if it is empty.
  explicit VideoList(std::vector<std::string> paths, ReaderOptions options = {}) : paths_(std::move(paths)), options_(options) {
    if (paths_.empty()) throw config_error("VideoList: no videos");
  }

  /// Every video file under `dir` (recursively), sorted by path.
  /// @throws config_error naming `dir` if it is not a directory or holds no video.
  static VideoList from_directory(const std::filesystem::path& dir, ReaderOptions options = {}) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw config_error("VideoList: " + dir.string() + " is not a directory");
    std::vector<std::string> paths;
    for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied)) {
      if (entry.is_regular_file() && is_video_file_name(entry.path())) paths.push_back(entry.path().string());
    }
    if (paths.empty()) throw config_error("VideoList: no video files in " + dir.string());
    std::sort(paths.begin(), paths.end());
    return VideoList(std::move(paths), options);
  }

  /// One path per line; blank lines and lines starting with `#` are skipped; relative paths are
  /// relative to the list file's folder. Missing videos are not checked here (they fail on open,
  /// so a long run can skip them). @throws config_error naming `list` if it cannot be read or is empty.
  static VideoList from_file(const std::filesystem::path& list, ReaderOptions options = {}) {
    std::ifstream in(list);
    if (!in) throw config_error("VideoList: cannot read list file " + list.string());
    std::vector<std::string> paths;
    for (std::string line; std::getline(in, line);) {
      line = trim(line);
      if (line.empty() || line.front() == '#') continue;
      std::filesystem::path p(line);
      paths.push_back(p.is_absolute() ? p.string() : (list.parent_path() / p).string());
    }
    if (paths.empty()) throw config_error("VideoList: list file " + list.string() + " names no videos");
    return VideoList(std::move(paths), options);
  }

  /// A directory or a list file, whichever `path` is.
  static VideoList from_path(const std::filesystem::path& path, ReaderOptions options = {}) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return from_directory(path, options);
    if (is_video_file_name(path)) return VideoList({path.string()}, options);
    return from_file(path, options);
  }

  /// Videos `rank, rank + world, rank + 2·world, …`: disjoint across ranks, together all of them.
  /// @throws config_error if `rank` is outside `[0, world)` or the shard would be empty.
  [[nodiscard]] VideoList shard(std::size_t rank, std::size_t world) const {
    std::vector<std::string> mine(detail::shard_size("VideoList::shard", rank, world, paths_.size()));
    for (std::size_t i = 0; i < mine.size(); ++i) mine[i] = paths_[rank + i * world];
    return VideoList(std::move(mine), options_);
  }

  [[nodiscard]] std::size_t size() const noexcept { return paths_.size(); }
  [[nodiscard]] std::string name(std::size_t i) const { return paths_.at(i); }
  [[nodiscard]] const std::vector<std::string>& paths() const noexcept { return paths_; }
  /// Opens video `i`. @throws open_error naming the file.
  [[nodiscard]] VideoReader open(std::size_t i) const { return VideoReader(paths_.at(i), options_); }

 private:
  static std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
  }

  std::vector<std::string> paths_;
  ReaderOptions options_;
};

static_assert(VideoSource<VideoList>);

}  // namespace longform
