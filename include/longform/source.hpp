// SPDX-License-Identifier: MIT
/// @file
/// The source family: where videos come from. See `source/concepts.hpp` for the protocol.
#pragma once

#include <longform/source/any_source.hpp>
#include <longform/source/ava_videos.hpp>
#include <longform/source/concepts.hpp>
#include <longform/source/stream.hpp>
#include <longform/source/synthetic_motion.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/source/video_file.hpp>
#include <longform/source/video_list.hpp>
