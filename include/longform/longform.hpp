// SPDX-License-Identifier: MIT
/// @file
/// Everything: sources, samplers, transforms, pipelines, backbones, objectives, the `Pretrainer`,
/// multi-process training on c10d (link `longform::distributed` for its Gloo and NCCL backends),
/// evaluation. One include for programs that do not count their compile time; the family headers
/// (`<longform/sampler.hpp>`, `<longform/pipeline.hpp>`, …) and single headers compile faster.
/// Without FFmpeg's headers (a build with LONGFORM_WITH_FFMPEG=OFF) it leaves out the decoding
/// layer and what reads files: what remains trains on `SyntheticVideo`.
#pragma once

#include <longform/version.hpp>

#include <longform/backbone/videomae_decoder.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/retain_memory.hpp>
#include <longform/core/threads.hpp>
#include <longform/distributed.hpp>
#include <longform/objective.hpp>
#include <longform/pipeline.hpp>
#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/transform.hpp>

#if __has_include(<libavformat/avformat.h>)
#include <longform/data.hpp>
#include <longform/eval.hpp>
#include <longform/io.hpp>
#include <longform/source.hpp>
#endif
