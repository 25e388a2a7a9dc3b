// SPDX-License-Identifier: MIT
// Checkpoint I/O: Python torch.save files in, files Python's torch.load reads out, strict checks.
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>

// c10 defines a glog-style CHECK; Catch must own the name.
#undef CHECK
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "golden.hpp"

using namespace longform;
using longform::test::golden;

namespace {

X3DOptions tiny_options() { return {.num_classes = 10, .frames = 4, .crop_size = 48, .width_factor = 1.0, .depth_factor = 1.0, .head_dim_out = 128}; }

std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "longform-test-weights";
  std::filesystem::create_directories(dir);
  return dir / name;
}

// Runs a Python snippet with torch; the exit status says whether its assertions held.
int python(const std::string& code) {
  const auto script = temp_path("check.py");
  std::ofstream(script) << code;
  return std::system((std::string(LONGFORM_PYTHON) + " " + script.string()).c_str());
}

}  // namespace

TEST_CASE("read_checkpoint reads PyTorchVideo's {'model_state': ...} layout", "[backbone][weights]") {
  const auto sd = read_checkpoint(golden("x3d_tiny.pyth"));
  CHECK(sd.size() == test::golden_summary()["x3d_tiny"]["num_entries"].get<std::size_t>());
  CHECK(sd["blocks.1.res_blocks.0.branch2.norm_a.num_batches_tracked"].scalar_type() == at::kLong);
  CHECK(sd["blocks.5.proj.weight"].sizes() == c10::IntArrayRef{10, 128});
  // Keys come back in the file's order, which is the module's order.
  X3D model(tiny_options());
  CHECK(test::key_list(sd) == test::key_list(state_dict(*model)));
}

TEST_CASE("load_state_dict is strict and lists every offending key", "[backbone][weights]") {
  auto sd = read_checkpoint(golden("x3d_tiny.pyth"));
  X3D model(tiny_options());

  StateDict broken;
  for (const auto& item : sd)
    if (item.key() != "blocks.0.norm.running_var") broken.insert(item.key(), item.value());
  broken.insert("blocks.9.extra", at::ones({1}));
  broken["blocks.5.proj.bias"] = at::ones({11});
  try {
    load_state_dict(*model, broken, "broken.pt");
    FAIL("no error");
  } catch (const state_dict_error& e) {
    CHECK(e.missing() == std::vector<std::string>{"blocks.0.norm.running_var"});
    CHECK(e.unexpected() == std::vector<std::string>{"blocks.9.extra"});
    REQUIRE(e.mismatched().size() == 1);
    CHECK_THAT(e.mismatched()[0], Catch::Contains("blocks.5.proj.bias") && Catch::Contains("[11]") && Catch::Contains("[10]"));
    CHECK_THAT(e.what(), Catch::StartsWith("broken.pt:") && Catch::Contains("1 missing"));
  }
  // Nothing was copied by the failed load.
  CHECK_FALSE(at::equal(state_dict(*model)["blocks.5.proj.weight"], sd["blocks.5.proj.weight"]));

  // X3D-M's widths do not fit the tiny checkpoint: a config_error naming the file.
  X3D m(x3d_m());
  CHECK_THROWS_AS(load_checkpoint(*m, golden("x3d_tiny.pyth")), config_error);
  CHECK_THROWS_WITH(load_checkpoint(*m, golden("x3d_tiny.pyth")), Catch::Contains("x3d_tiny.pyth"));
}

TEST_CASE("bad checkpoint files give a config_error naming the file", "[backbone][weights]") {
  const auto missing = temp_path("does-not-exist.pt");
  CHECK_THROWS_WITH(read_checkpoint(missing), Catch::Contains("does-not-exist.pt"));
  const auto text = temp_path("not-a-checkpoint.pt");
  std::ofstream(text) << "hello";
  CHECK_THROWS_AS(read_checkpoint(text), config_error);
  CHECK_THROWS_WITH(read_checkpoint(golden("x3d_tiny.pyth"), {.entry = "optimizer"}), Catch::Contains("'optimizer'"));
  CHECK_THROWS_WITH(read_checkpoint(golden("x3d_tiny.pyth"), {.prefix = "encoder."}), Catch::Contains("encoder."));
}

TEST_CASE("Hugging Face VideoMAE names convert to MCG-NJU's and back", "[backbone][weights]") {
  // transformers' own VideoMAEForPreTraining state dict, and the MCG-NJU names that
  // make_backbone_golden.py gives it with its own copy of the table.
  const auto hf = read_checkpoint(golden("videomae_tiny_hf.bin"));
  const auto mcg = hugging_face_to_videomae(hf);
  const auto sorted = [](nlohmann::json keys) {
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  CHECK(sorted(test::key_list(mcg)) == sorted(test::golden_summary()["videomae_tiny"]["keys"]));

  // The encoder back under `videomae.`: the file's own keys and tensors.
  const auto back = videomae_to_hugging_face(strip_prefix(mcg, "encoder."), "videomae.");
  StateDict encoder;
  for (const auto& item : hf)
    if (item.key().starts_with("videomae.")) encoder.insert(item.key(), item.value());
  REQUIRE(sorted(test::key_list(back)) == sorted(test::key_list(encoder)));
  for (const auto& item : encoder) CHECK(at::equal(back[item.key()], item.value()));

  // A classifier's head sits outside `videomae.`; older transformers releases spell the bias q_bias.
  StateDict finetuned;
  finetuned.insert("fc_norm.weight", at::ones({4}));
  finetuned.insert("head.weight", at::ones({2, 4}));
  finetuned.insert("blocks.0.attn.q_bias", at::ones({4}));
  CHECK(videomae_to_hugging_face(finetuned, "videomae.").keys() ==
        std::vector<std::string>{"fc_norm.weight", "classifier.weight", "videomae.encoder.layer.0.attention.attention.query.bias"});
  StateDict older;
  older.insert("videomae.encoder.layer.0.attention.attention.q_bias", at::ones({4}));
  CHECK(hugging_face_to_videomae(older).keys() == std::vector<std::string>{"encoder.blocks.0.attn.q_bias"});
}

TEST_CASE("save_state_dict round-trips through C++", "[backbone][weights]") {
  X3D model(tiny_options());
  const auto path = temp_path("x3d_roundtrip.pt");
  save_state_dict(*model, path);
  const auto back = read_checkpoint(path);
  const auto sd = state_dict(*model);
  REQUIRE(test::key_list(back) == test::key_list(sd));
  for (const auto& item : sd) CHECK(at::equal(back[item.key()], item.value()));
  // Non-contiguous and integer tensors survive too.
  StateDict odd;
  odd.insert("t", at::arange(12, at::kFloat).view({3, 4}).t());
  odd.insert("i", at::arange(5, at::kLong) - 2);
  save_state_dict(odd, temp_path("odd.pt"));
  const auto odd_back = read_checkpoint(temp_path("odd.pt"));
  CHECK(at::equal(odd_back["t"], odd["t"]));
  CHECK(at::equal(odd_back["i"], odd["i"]));
}

TEST_CASE("Python's torch.load(weights_only=True) reads what C++ saves", "[backbone][weights][python]") {
  // Load the PyTorchVideo checkpoint in C++, save it, and compare in Python with the original.
  X3D model(tiny_options());
  load_checkpoint(*model, golden("x3d_tiny.pyth"));
  const auto path = temp_path("x3d_for_python.pt");
  save_state_dict(*model, path);
  const int rc = python(
      "import torch, collections\n"
      "a = torch.load(r'" +
      path.string() +
      "', weights_only=True)\n"
      "b = torch.load(r'" +
      golden("x3d_tiny.pyth").string() +
      "', weights_only=True)['model_state']\n"
      "assert isinstance(a, collections.OrderedDict), type(a)\n"
      "assert list(a) == list(b), 'key order differs'\n"
      "assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)\n");
  CHECK(rc == 0);
}
