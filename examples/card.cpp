// SPDX-License-Identifier: MIT
// The card's line as written: online MoCo pre-training of X3D-M on sequential clips (16 frames,
// 8 apart, videos read start to end) of real footage.  card VIDEO_OR_FOLDER [steps] [batch] [size]
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <longform/objective/moco.hpp>
#include <longform/sampler/sequential.hpp>
#include <longform/source/video_list.hpp>
#include <longform/train/pretrainer.hpp>

using namespace longform;

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: %s VIDEO_OR_FOLDER [steps=100] [batch=8] [size=112]\n", argv[0]), 2;
  auto arg = [&](int i, std::int64_t fallback) -> std::int64_t { return argc > i ? std::atoll(argv[i]) : fallback; };

  Pretrainer<SequentialSampler<Stride<8>>, MoCo<X3DM>> trainer(VideoList::from_path(argv[1]),
                                                               {.steps = arg(2, 100), .batch = arg(3, 8), .size = arg(4, 112)});
  const PretrainReport report = trainer.run();
  for (std::size_t i = 0; i < report.losses.size(); ++i) std::printf("step %zu: loss %.4f\n", i + 1, report.losses[i]);
  return report.losses.empty() ? 1 : 0;
}
