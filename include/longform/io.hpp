// SPDX-License-Identifier: MIT
/// @file
/// The FFmpeg layer: `VideoReader`, `VideoWriter`, `frames()`.
#pragma once

#include <longform/io/ffmpeg_log.hpp>
#include <longform/io/frames.hpp>
#include <longform/core/video_info.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/io/video_writer.hpp>
