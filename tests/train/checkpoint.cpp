// SPDX-License-Identifier: MIT
// Training checkpoints as Python reads them: `torch.load(path, weights_only=True)` returns a plain
// dict (checked by Python itself, tests/reference/check_checkpoint.py); the optimizer state comes
// back exactly; damaged, foreign, old-format and hostile files are `checkpoint_error`s naming the
// file; `longform export` writes encoders that PyTorchVideo's `create_x3d` and transformers'
// `VideoMAEModel` load strictly and that give the C++ models' outputs within 1e-5.
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/output-archive.h>

#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/eval/pretrained.hpp>
#include <longform/sampler.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/checkpoint.hpp>
#include <longform/train/options.hpp>
#include <longform/train/pretrainer.hpp>

#include "../support.hpp"
#include "tiny_objective.hpp"

#include "../catch.hpp"

using namespace longform;
using longform::test::NextFrame;
using namespace std::string_literals;

namespace {

namespace fs = std::filesystem;
using Sequential = SequentialSampler<Frames<4>, Stride<2>>;

SyntheticVideo videos() { return SyntheticVideo({.seed = 7, .videos = 2, .frames = 2000, .width = 48, .height = 40}); }

PretrainerOptions options(const fs::path& dir, OptimizerKind optimizer) {
  return {.steps = 3,
          .batch = 2,
          .size = 24,
          .optimizer = optimizer,
          .lr = 2e-3,
          .warmup_steps = 1,
          .out_dir = dir.string(),
          .prefetch = 2,
          .progress = false};
}

// Python's verdict on a check of tests/reference/check_checkpoint.py: 0 held, 77 skipped, else failed.
int python_check(const std::string& args) {
  const auto r = longform::test::run(std::string(LONGFORM_PYTHON) + " " + LONGFORM_REFERENCE_DIR "/check_checkpoint.py " + args);
  UNSCOPED_INFO(r.output);
  return r.status;
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A torch.save-style zip holding `pkl` as data.pkl and the given storages.
std::string zip_of(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& records = {}) {
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) {
    out.append(static_cast<const char*>(data), n);
    return n;
  });
  writer.writeRecord("data.pkl", pkl.data(), pkl.size());
  for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
  writer.writeEndOfFile();
  return out;
}

// The error `read_training_state` gives for `bytes` (which must be a checkpoint_error naming the file).
std::string refusal(const fs::path& path, const std::string& bytes) {
  write_bytes(path, bytes);
  try {
    (void)read_training_state(path);
  } catch (const checkpoint_error& e) {
    CHECK(e.path() == path);
    CHECK_THAT(e.what(), Catch::StartsWith(path.string() + ": "));
    return e.what();
  }
  FAIL("read_training_state accepted " << path);
  return {};
}

}  // namespace

TEST_CASE("A training checkpoint is a dict that torch.load(weights_only=True) reads, and resumes exactly", "[train][checkpoint]") {
  for (const auto kind : {OptimizerKind::adamw, OptimizerKind::sgd, OptimizerKind::rmsprop}) {
    const std::string name(enum_name(kind));
    DYNAMIC_SECTION(name) {
      const auto dir = longform::test::scratch("ckpt-python-" + name);
      at::manual_seed(1234);
      auto o = options(dir, kind);
      o.momentum = 0.9;
      o.orthogonal = kind == OptimizerKind::rmsprop;  // the gradients' averages beside the optimizer's state
      Pretrainer trainer{videos(), Sequential({.seed = 3, .epochs = 0}), NextFrame(), o};
      REQUIRE(trainer.run().last_step == 3);
      const auto ckpt = dir / "checkpoint.pt";
      save_state_dict(trainer.objective().module(), dir / "expect.pt");
      CHECK(python_check("state " + ckpt.string() + " " + (dir / "expect.pt").string()) == 0);

      // Read back into a fresh objective and optimizer: weights, moments, momentum buffers, steps, bit for bit.
      at::manual_seed(99);
      NextFrame fresh({.seed = 5});
      auto params = fresh.parameters();
      std::unique_ptr<torch::optim::Optimizer> opt;
      if (kind == OptimizerKind::sgd)
        opt = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(1.0));
      else if (kind == OptimizerKind::rmsprop)
        opt = orthogonalize(std::make_unique<torch::optim::RMSprop>(params, torch::optim::RMSpropOptions(1.0)), 0.5);
      else
        opt = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(1.0));
      const auto st = load_training_checkpoint(ckpt, fresh.module(), *opt, c10::Device(c10::kCPU));
      CHECK(st.step == 3);
      CHECK(st.sampler == read_training_state(ckpt).sampler);
      CHECK_FALSE(st.sampler.kind.empty());
      CHECK(st.cpu_rng.defined());
      CHECK(st.objective_rng.defined());
      const auto a = state_dict(fresh.module()), b = state_dict(trainer.objective().module());
      REQUIRE(a.size() == b.size());
      for (const auto& item : a) CHECK(at::equal(item.value(), b[item.key()]));
      auto& theirs = trainer.optimizer();
      const auto their_params = trainer.objective().parameters();
      REQUIRE(their_params.size() == params.size());
      CHECK(opt->param_groups()[0].options().get_lr() == theirs.param_groups()[0].options().get_lr());
      for (std::size_t i = 0; i < params.size(); ++i) {
        const auto& mine = *opt->state().at(params[i].unsafeGetTensorImpl());
        const auto& ref = *theirs.state().at(their_params[i].unsafeGetTensorImpl());
        if (kind == OptimizerKind::sgd) {
          CHECK(at::equal(static_cast<const torch::optim::SGDParamState&>(mine).momentum_buffer(),
                          static_cast<const torch::optim::SGDParamState&>(ref).momentum_buffer()));
        } else if (kind == OptimizerKind::rmsprop) {
          const auto& m = static_cast<const torch::optim::RMSpropParamState&>(mine);
          const auto& r = static_cast<const torch::optim::RMSpropParamState&>(ref);
          CHECK(m.step() == r.step());
          CHECK(at::equal(m.square_avg(), r.square_avg()));
          CHECK_FALSE(m.momentum_buffer().defined());
          const auto& mine_orthogonal = dynamic_cast<const OrthogonalGradients&>(*opt);
          const auto& their_orthogonal = dynamic_cast<const OrthogonalGradients&>(theirs);
          CHECK(mine_orthogonal.beta() == o.orthogonal_beta);  // the checkpoint's, not the 0.5 it was built with
          CHECK(mine_orthogonal.videos() == their_orthogonal.videos());
          CHECK(at::equal(mine_orthogonal.averages()[i], their_orthogonal.averages()[i]));
        } else {
          const auto& m = static_cast<const torch::optim::AdamWParamState&>(mine);
          const auto& r = static_cast<const torch::optim::AdamWParamState&>(ref);
          CHECK(m.step() == r.step());
          CHECK(at::equal(m.exp_avg(), r.exp_avg()));
          CHECK(at::equal(m.exp_avg_sq(), r.exp_avg_sq()));
        }
      }

      // Another optimizer type is refused before anything is changed.
      NextFrame other({.seed = 5});
      auto other_params = other.parameters();
      const auto before = state_dict(other.module())["enc.weight"].clone();
      std::unique_ptr<torch::optim::Optimizer> wrong;
      if (kind != OptimizerKind::adamw)
        wrong = std::make_unique<torch::optim::AdamW>(other_params, torch::optim::AdamWOptions(1.0));
      else
        wrong = std::make_unique<torch::optim::SGD>(other_params, torch::optim::SGDOptions(1.0));
      CHECK_THROWS_WITH(load_training_checkpoint(ckpt, other.module(), *wrong, c10::Device(c10::kCPU)),
                        Catch::Contains(ckpt.string()) && Catch::Contains("the optimizer does not match"));
      CHECK(at::equal(state_dict(other.module())["enc.weight"], before));
    }
  }
}

TEST_CASE("Damaged, foreign, old-format and hostile checkpoints are checkpoint_errors naming the file", "[train][checkpoint]") {
  const auto dir = longform::test::scratch("ckpt-hostile");
  at::manual_seed(1234);
  Pretrainer trainer{videos(), Sequential({.seed = 3, .epochs = 0}), NextFrame(), options(dir, OptimizerKind::adamw)};
  trainer.run();
  const std::string good = bytes_of(dir / "checkpoint.pt");
  REQUIRE(read_training_state(dir / "checkpoint.pt").step == 3);
  const auto bad = dir / "bad.pt";

  SECTION("truncated at any length") {
    for (std::size_t n : {std::size_t(0), std::size_t(10), good.size() / 3, good.size() / 2, good.size() - 30, good.size() - 1})
      CHECK_THAT(refusal(bad, good.substr(0, n)), Catch::Contains("not a readable checkpoint archive"));
  }
  SECTION("bytes flipped anywhere: read (tensor data) or refused, never another exception") {
    std::mt19937 rng(5);
    for (int i = 0; i < 300; ++i) {
      std::string b = good;
      b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
      write_bytes(bad, b);
      try {
        (void)read_training_state(bad);
      } catch (const checkpoint_error& e) {
        CHECK(e.path() == bad);
      }
    }
  }
  SECTION("a torch.save file that is no training checkpoint") {
    save_state_dict(trainer.objective().module(), bad);  // a state dict: a dict, but no format tag
    CHECK_THAT(refusal(bad, bytes_of(bad)), Catch::Contains("not a longform training checkpoint"));
    CHECK_THAT(refusal(bad, zip_of("\x80\x02]q\x00."s)), Catch::Contains("not a longform training checkpoint"));  // []
  }
  SECTION("format 1, the TorchScript archive of earlier releases, is recognised and refused with advice") {
    torch::serialize::OutputArchive archive;
    archive.write("format", c10::IValue(std::string("longform.training_checkpoint/1")));
    archive.write("step", c10::IValue(std::int64_t{3}));
    torch::serialize::OutputArchive model;
    trainer.objective().module().save(model);
    archive.write("model", model);
    archive.save_to(bad.string());
    CHECK_THAT(refusal(bad, bytes_of(bad)), Catch::Contains("format 1") && Catch::Contains("torch.jit.load"));
  }
  SECTION("a pickle that builds a cycle, one nested a million deep, a storage larger than its record") {
    CHECK_THAT(refusal(bad, zip_of("\x80\x02]q\x00h\x00"
                                   "a."s)),
               Catch::Contains("cyclic"));  // l = []; l.append(l)
    const std::string deep = "\x80\x02" + std::string(1000000, ']') + std::string(999999, 'a') + ".";
    CHECK_THAT(refusal(bad, zip_of(deep)), Catch::Contains("nested deeper"));
    // torch._utils._rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', 2**40), 0, (1,), (1,), False, OrderedDict())
    const std::string huge =
        "\x80\x02"
        "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\0\0\0storagectorch\nFloatStorage\n"
        "X\x01\0\0\0"
        "0X\x03\0\0\0cpu\x8a\x06\0\0\0\0\0\x01tQK\0K\x01\x85K\x01\x85\x89)tR."s;
    CHECK_THAT(refusal(bad, zip_of(huge, {{"data/0", std::string(8, '\0')}})), Catch::Contains("holds 8 bytes"));
  }
  SECTION("a model of another shape, by name") {
    NextFrame wider({.width = 16});
    auto params = wider.parameters();
    torch::optim::AdamW adamw(params, torch::optim::AdamWOptions(1.0));
    CHECK_THROWS_WITH(load_training_checkpoint(dir / "checkpoint.pt", wider.module(), adamw, c10::Device(c10::kCPU)),
                      Catch::Contains((dir / "checkpoint.pt").string()));
    CHECK_THROWS_AS(read_training_submodule(dir / "checkpoint.pt", "encoder_q"), checkpoint_error);
  }
}

namespace {

// What the two export tests vary: the run `longform pretrain` makes, the encoder and naming
// `longform export` reports, and how Python and longform check the exported file.
struct ExportCase {
  std::string scratch;             // folder name
  std::string pretrain;            // `longform pretrain --synthetic` arguments besides the shared ones
  std::int64_t frames = 4;         // clip length, pre-training and check alike (32x32 pixels)
  std::string encoder, naming;     // what `longform export` reports
  std::string output;              // the model output's name in io.pt
  std::string check, check_sizes;  // check_checkpoint.py's check, and its arguments after the files
  std::string optional_package;    // when not empty: the check may skip (77) for want of it
  CheckpointOptions read_back;     // how longform reads the exported file back
};

// Pre-trains with the CLI and exports the encoder; then `model`, loaded from the checkpoint, gives
// `forward(*model, input)` that the upstream model in Python must reproduce from the exported file,
// and longform reads that file back to the checkpoint's encoder, tensor for tensor.
template <class Model, class Forward>
void check_export(const ExportCase& c, Model model, Forward forward) {
  const auto dir = longform::test::scratch(c.scratch);
  const std::string cli(LONGFORM_CLI);
  const auto pretrain = longform::test::run(cli + " pretrain --synthetic " + c.pretrain + " --frames " + std::to_string(c.frames) +
                                            " --stride 2 --size 32 --batch 2 --steps 2 --threads 2 --out " + dir.string());
  INFO(pretrain.output);
  REQUIRE(pretrain.status == 0);
  const auto ckpt = dir / "checkpoint.pt", out = dir / "encoder.pt";
  const auto exported = longform::test::run(cli + " export --weights " + ckpt.string() + " --out " + out.string());
  INFO(exported.output);
  REQUIRE(exported.status == 0);
  CHECK_THAT(exported.output, Catch::Contains("\"encoder\":\"" + c.encoder + "\"") && Catch::Contains("\"naming\":\"" + c.naming + "\""));

  REQUIRE(load_pretrained(*model, ckpt) == "checkpoint:" + c.encoder);
  model->eval();
  at::manual_seed(3);
  const auto input = at::randn({2, 3, c.frames, 32, 32});
  at::Tensor output;
  {
    torch::NoGradGuard no_grad;
    output = forward(*model, input);
  }
  StateDict io;
  io.insert("input", input);
  io.insert(c.output, output);
  save_state_dict(io, dir / "io.pt");
  const int status = python_check(c.check + " " + out.string() + " " + (dir / "io.pt").string() + " " + c.check_sizes);
  if (status == 77 && !c.optional_package.empty())
    WARN(c.optional_package + " is not installed: the comparison was skipped");
  else
    CHECK(status == 0);
  const auto back = read_checkpoint(out, c.read_back);
  const auto sub = read_training_submodule(ckpt, c.encoder);
  REQUIRE(back.size() == sub.size());
  for (const auto& item : sub) CHECK(at::equal(back[item.key()], item.value()));
}

}  // namespace

TEST_CASE("longform export: MoCo's X3D encoder gives PyTorchVideo's create_x3d the C++ logits within 1e-5", "[train][checkpoint][export]") {
  X3DOptions o = x3d_xs();
  o.frames = 4;
  o.crop_size = 32;  // output: logits, through the (untrained) classifier blocks.5.proj
  // The file is also what longform itself reads back, PyTorchVideo's names being its own.
  check_export({.scratch = "ckpt-export-x3d",
                .pretrain = "--method moco --arch x3d_xs --queue-size 8",
                .frames = 4,
                .encoder = "encoder_q",
                .naming = "pytorchvideo",
                .output = "logits",
                .check = "x3d",
                .check_sizes = "4 32"},
               X3D(o), [](X3DImpl& m, const at::Tensor& x) { return m.forward(x); });
}

TEST_CASE("longform export: VideoMAE's ViT encoder gives transformers' VideoMAEModel the C++ tokens within 1e-5", "[train][checkpoint][export]") {
  VideoViTOptions o = vit_tiny();
  o.frames = 8;
  o.image_size = 32;
  // Hugging Face names map back to the encoder's own (KeyNaming::hugging_face).
  check_export({.scratch = "ckpt-export-vit",
                .pretrain = "--method videomae --arch vit_tiny --mask-ratio 0.5",
                .frames = 8,
                .encoder = "encoder",
                .naming = "hf",
                .output = "tokens",
                .check = "videomae",
                .check_sizes = "8 32 8 192 4 3",
                .optional_package = "transformers",
                .read_back = {.prefix = "encoder.", .naming = KeyNaming::hugging_face}},
               VideoViT(o), [](VideoViTImpl& m, const at::Tensor& x) { return m.forward_tokens(x); });
}
