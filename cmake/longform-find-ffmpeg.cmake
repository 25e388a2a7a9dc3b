# FFmpeg has no CMake package: find it through pkg-config as an imported target.
include_guard(GLOBAL)
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::LONGFORM_FFMPEG)
  pkg_check_modules(LONGFORM_FFMPEG REQUIRED IMPORTED_TARGET GLOBAL
    libavformat libavcodec libavutil libswscale)
endif()
