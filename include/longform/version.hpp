// SPDX-License-Identifier: MIT
/// @file
/// The library's version: the one place it is written (CMakeLists.txt reads it from here).
///
///     #if LONGFORM_VERSION >= 100   // 0.1.0 or newer
#pragma once

#define LONGFORM_VERSION_MAJOR 0
#define LONGFORM_VERSION_MINOR 1
#define LONGFORM_VERSION_PATCH 0
/// 10000·major + 100·minor + patch.
#define LONGFORM_VERSION (LONGFORM_VERSION_MAJOR * 10000 + LONGFORM_VERSION_MINOR * 100 + LONGFORM_VERSION_PATCH)

#define LONGFORM_DETAIL_STRINGIZE(x) #x
#define LONGFORM_DETAIL_VERSION(major, minor, patch) \
  LONGFORM_DETAIL_STRINGIZE(major) "." LONGFORM_DETAIL_STRINGIZE(minor) "." LONGFORM_DETAIL_STRINGIZE(patch)

namespace longform {

/// "major.minor.patch".
inline constexpr const char* version_string = LONGFORM_DETAIL_VERSION(LONGFORM_VERSION_MAJOR, LONGFORM_VERSION_MINOR, LONGFORM_VERSION_PATCH);

}  // namespace longform
