// SPDX-License-Identifier: MIT
// libFuzzer target: arbitrary bytes as a training checkpoint (checkpoints are untrusted input).
// They go through the restricted `torch.save` reader (zip + pickle, backbone/detail/pickle.hpp)
// and every step of reading a checkpoint: the format tag, the training state, the model's state
// dict and the optimizer's state into a real (small) AdamW. A `checkpoint_error` naming the file
// is a correct answer to bad bytes; a crash, a sanitizer report (a leak included: a cyclic pickle
// must not leak), another exception or a broken invariant is a bug.
// Run with `tests/fuzz/run SECONDS checkpoint`; with LONGFORM_FUZZ_SEEDS=DIR set, the target first
// writes real checkpoints there as seeds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <longform/train/checkpoint.hpp>

#include "invariant.hpp"

namespace {

struct Tiny : torch::nn::Module {
  Tiny() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    count = register_buffer("count", at::zeros({}, at::kLong));
  }
  torch::nn::Linear fc{nullptr};
  at::Tensor count;
};

// Real checkpoints of the module above, after a few AdamW or SGD steps.
void write_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const bool sgd : {false, true}) {
    at::manual_seed(1);
    Tiny m;
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (sgd)
      opt = std::make_unique<torch::optim::SGD>(m.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    else
      opt = std::make_unique<torch::optim::AdamW>(m.parameters(), torch::optim::AdamWOptions(0.1));
    for (int i = 0; i < 2; ++i) {
      opt->zero_grad();
      m.fc->forward(at::ones({4, 3})).sum().backward();
      opt->step();
    }
    longform::TrainingState st{.step = 2,
                               .sampler = {.kind = "sequential", .values = {1, 2, 3}},
                               .cpu_rng = longform::generator_state(at::detail::getDefaultCPUGenerator())};
    st.ranks.push_back({.sampler = st.sampler, .cpu_rng = st.cpu_rng});
    longform::save_training_checkpoint(dir / (sgd ? "sgd.pt" : "adamw.pt"), m, *opt, st);
  }
}

}  // namespace

// LibTorch's own leak, not ours: when `PyTorchStreamReader`'s constructor throws after miniz has
// read the central directory (a bad version record, say), its destructor never runs and miniz's
// state (about 1 KiB per bad file) is not freed (`mz_zip_reader_end` is never called).
extern "C" const char* __lsan_default_suppressions() { return "leak:mz_zip_reader_init\nleak:mz_zip_reader_read_central_dir\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("LONGFORM_FUZZ_SEEDS")) write_seeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ckpt = longform::detail::ckpt;
  const std::filesystem::path path("fuzz/checkpoint.pt");
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto state = longform::read_training_state_bytes(bytes, path);
    LONGFORM_FUZZ_REQUIRE(state.step >= 0);
    LONGFORM_FUZZ_REQUIRE(!state.cpu_rng.defined() || state.cpu_rng.scalar_type() == at::kByte);

    const auto root = ckpt::parse(bytes, path);
    const ckpt::Reader r(path);
    const auto& dict = ckpt::checked_root(root, path);
    const auto model = ckpt::read_model(r, dict);
    Tiny m;
    torch::optim::AdamW adamw(m.parameters(), torch::optim::AdamWOptions(0.1));
    auto restore = ckpt::read_optimizer(r, dict, adamw);  // shapes and dtypes checked, tensors copied
    ckpt::load_model(m, model, path, path.string());
    restore.apply(adamw);
    for (const auto& [key, s] : adamw.state()) {
      const auto& st = static_cast<const torch::optim::AdamWParamState&>(*s);
      LONGFORM_FUZZ_REQUIRE(st.step() >= 0 && st.exp_avg().defined());
    }
  } catch (const longform::checkpoint_error& e) {
    LONGFORM_FUZZ_REQUIRE(e.path() == path);
  }
  return 0;
}
