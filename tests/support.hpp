// SPDX-License-Identifier: MIT
// Helpers shared by the test TUs: where the real footage is, running reference tools.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/md5.h>
}

#include <ATen/core/Tensor.h>

namespace longform::test {

/// A file of the fetched test footage (tests/data/fetch-videos).
inline std::string video(const std::string& name) { return (std::filesystem::path(LONGFORM_TEST_DATA_DIR) / name).string(); }

/// A fresh scratch folder for one test.
inline std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("longform-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct CommandResult {
  int status;
  std::string output;  // stdout and stderr
};

/// Runs a shell command, capturing stdout and stderr.
inline CommandResult run(const std::string& command) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

/// Lines of a command's output (which must succeed).
inline std::vector<std::string> lines_of(const std::string& command) {
  auto r = run(command);
  if (r.status != 0) throw std::runtime_error("command failed (" + std::to_string(r.status) + "): " + command + "\n" + r.output);
  std::vector<std::string> lines;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// ffprobe's value of one entry of the first video stream, e.g. `probe(path, "stream=width")`.
inline std::string probe(const std::string& path, const std::string& entry, const std::string& extra = "") {
  auto lines = lines_of("ffprobe -v error -select_streams v:0 " + extra + " -show_entries " + entry + " -of default=noprint_wrappers=1:nokey=1 '" +
                        path + "'");
  return lines.empty() ? std::string() : lines.front();
}

/// MD5 (hex) of a tensor's bytes, as ffmpeg's framemd5 computes it for packed frames.
inline std::string md5_hex(const at::Tensor& t) {
  std::uint8_t digest[16];
  const at::Tensor c = t.contiguous();
  av_md5_sum(digest, static_cast<const std::uint8_t*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
  char hex[33];
  for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return hex;
}

/// The per-frame MD5s that `ffmpeg [input_options] -i path -f framemd5 -pix_fmt rgb24` prints, in order.
inline std::vector<std::string> ffmpeg_framemd5(const std::string& path, const std::string& input_options = "") {
  std::vector<std::string> md5s;
  for (const auto& line : lines_of("ffmpeg -nostdin -v error " + input_options + " -i '" + path + "' -map 0:v:0 -f framemd5 -pix_fmt rgb24 -")) {
    if (line.empty() || line.front() == '#') continue;
    md5s.push_back(line.substr(line.find_last_of(' ') + 1));
  }
  return md5s;
}

}  // namespace longform::test
