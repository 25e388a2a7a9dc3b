// SPDX-License-Identifier: MIT
/// @file
/// `peak_rss_mib()`: the process's peak resident memory, to check that a pipeline's memory stays
/// bounded however long the stream (the `clips` command and the pipeline benchmark report it).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace longform {

/// Peak resident memory of this process in MiB (Linux `VmHWM`; 0 where unavailable).
/// NOTE: not `getrusage`'s `ru_maxrss`, which survives `exec` and so reports a parent's peak
/// (e.g. a Python driver's) for a child it started.
inline double peak_rss_mib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::atof(line + 6);
  }
  std::fclose(f);
  return kib / 1024.0;
}

}  // namespace longform
