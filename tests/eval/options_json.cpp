// SPDX-License-Identifier: MIT
// Reflection and strict JSON (core/reflect.hpp, core/json.hpp): every *Options struct of the library
// round-trips; PretrainerOptions member by member; unknown keys, wrong types, out-of-range numbers,
// wrong array sizes and unknown enum names are refused by name; several structs from one object.
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include <longform/backbone/videomae_decoder.hpp>
#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/json.hpp>
#include <longform/core/reflect.hpp>
#include <longform/data.hpp>
#include <longform/distributed/collective.hpp>
#include <longform/distributed/data_parallel.hpp>
#include <longform/eval.hpp>
#include <longform/io.hpp>
#include <longform/objective.hpp>
#include <longform/pipeline/sample.hpp>
#include <longform/sampler.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/source/synthetic_video.hpp>
#include <longform/train/options.hpp>

#include "../catch.hpp"

using namespace longform;
using nlohmann::json;

namespace {

// The json_error `read` throws, or "" when it throws none.
template <class F>
std::string refusal(F read) {
  try {
    read();
  } catch (const json_error& e) {
    return e.what();
  }
  return "";
}

// T written, read back into a default T and written again gives the same text.
template <class T>
void round_trips(const T& value) {
  INFO(std::string(type_name<T>));
  const std::string text = to_json(value);
  CHECK(to_json(from_json<T>(json::parse(text))) == text);
}

}  // namespace

static_assert(member_names<PretrainerOptions>.size() == 32);
static_assert(member_names<PretrainerOptions>[0] == "steps" && member_names<PretrainerOptions>[31] == "dist_bucket_mib");
static_assert(type_name<PretrainerOptions> == "PretrainerOptions");
static_assert(member_of<PretrainerOptions>("grad_clip").name() == "grad_clip");
static_assert(enum_name(OptimizerKind::sgd) == "sgd" && enum_name(X3DOutput::features) == "features");

TEST_CASE("JSON: every PretrainerOptions member round-trips, in declaration order", "[json]") {
  const PretrainerOptions defaults;
  const PretrainerOptions o{.steps = 7,
                            .batch = 3,
                            .update_every = 2,
                            .size = 64,
                            .optimizer = OptimizerKind::sgd,
                            .lr = 0.25,
                            .min_lr = 0.125,
                            .warmup_steps = 2,
                            .weight_decay = 0.5,
                            .beta1 = 0.8,
                            .beta2 = 0.95,
                            .momentum = 0.7,
                            .rms_alpha = 0.9,
                            .orthogonal = true,
                            .orthogonal_beta = 0.5,
                            .grad_clip = 1.5,
                            .bf16 = false,
                            .channels_last = true,
                            .cudnn_benchmark = true,
                            .sync_every = 4,
                            .device = "cuda:1",
                            .seed = 18446744073709551615ULL,
                            .checkpoint_every = 5,
                            .out_dir = "runs/a \"b\"",
                            .resume = true,
                            .prefetch = 6,
                            .threads = 8,
                            .decode_workers = 9,
                            .progress = false,
                            .distributed = false,
                            .dist_timeout_s = 12.5,
                            .dist_bucket_mib = 0.75};
  const std::string text = to_json(o);
  CHECK(text.starts_with(R"({"steps":7,"batch":3,"update_every":2,"size":64,"optimizer":"sgd","lr":0.25,)"));
  const auto back = from_json<PretrainerOptions>(json::parse(text));
  int members = 0;
  for_each_member(o, [&](std::string_view name, const auto& value) {
    INFO(std::string(name));
    ++members;
    for_each_member(defaults, [&](std::string_view other, const auto& fallback) {
      if constexpr (std::is_same_v<decltype(value), decltype(fallback)>)
        if (other == name) CHECK_FALSE(value == fallback);  // the test sets every member
    });
    for_each_member(back, [&](std::string_view other, const auto& read) {
      if constexpr (std::is_same_v<decltype(value), decltype(read)>)
        if (other == name) CHECK(value == read);
    });
  });
  CHECK(members == 32);
  // nlohmann's own conversions reach the same functions.
  const json j = o;
  CHECK(j["optimizer"] == "sgd");
  CHECK(j.get<PretrainerOptions>().out_dir == o.out_dir);
  // Absent members keep the value they had.
  PretrainerOptions partial{.steps = 99};
  from_json(json{{"lr", 0.5}}, partial);
  CHECK(partial.steps == 99);
  CHECK(partial.lr == 0.5);
}

TEST_CASE("JSON: unknown keys, wrong types and values out of range are refused by name", "[json]") {
  PretrainerOptions o;
  const std::string unknown = refusal([&] { from_json(json{{"lr", 0.001}, {"min-lr", 0}}, o); });
  CHECK(unknown.starts_with("unknown key 'min-lr' in PretrainerOptions (accepted: steps, batch, update_every, size, optimizer, lr, min_lr,"));
  CHECK(unknown.ends_with("dist_timeout_s, dist_bucket_mib)"));
  CHECK(refusal([&] { from_json(json{{"lr", "x"}}, o); }) == R"(PretrainerOptions::lr: expected a number, got "x")");
  CHECK(refusal([&] { from_json(json{{"steps", 1.5}}, o); }) == "PretrainerOptions::steps: expected an integer, got 1.5");
  CHECK(refusal([&] { from_json(json{{"seed", -1}}, o); }) == "PretrainerOptions::seed: expected an integer >= 0, got -1");
  CHECK(refusal([&] { from_json(json{{"threads", 1}}, o); }).empty());
  ReaderOptions reader;
  CHECK(refusal([&] { from_json(json{{"threads", 4294967296LL}}, reader); }) ==
        "ReaderOptions::threads: expected an integer from -2147483648 to 2147483647, got 4294967296");
  CHECK(refusal([&] { from_json(json{{"bf16", 1}}, o); }) == "PretrainerOptions::bf16: expected true or false, got 1");
  CHECK(refusal([&] { from_json(json{{"device", nullptr}}, o); }) == "PretrainerOptions::device: expected a string, got null");
  CHECK(refusal([&] { from_json(json{{"optimizer", "adam"}}, o); }) ==
        R"(PretrainerOptions::optimizer: expected one of adamw, sgd, rmsprop, got "adam")");
  CHECK(refusal([&] { from_json(json::array({1, 2}), o); }) == "PretrainerOptions: expected an object, got [1,2]");
  CHECK(o.lr == PretrainerOptions{}.lr);  // all or nothing: "lr" came before "min-lr" and was not kept
  // Nested structs, arrays and enums of other options.
  VideoMAEOptions mae;
  CHECK(refusal([&] { from_json(json::parse(R"({"decoder": {"depth": "4"}})"), mae); }) ==
        R"(VideoMAEOptions::decoder::depth: expected an integer, got "4")");
  CHECK(refusal([&] {
          from_json(json::parse(R"({"decoder": {"width": 4}})"), mae);
        }).starts_with("unknown key 'width' in VideoMAEOptions::decoder (accepted: embed_dim,"));
  MoCoOptions moco;
  CHECK(refusal([&] { from_json(json::parse(R"({"crop_scale": [0.5]})"), moco); }) == "MoCoOptions::crop_scale: expected an array of 2, got [0.5]");
  CHECK(refusal([&] { from_json(json::parse(R"({"crop_scale": [0.5, "1"]})"), moco); }) ==
        R"(MoCoOptions::crop_scale[1]: expected a number, got "1")");
  X3DOptions x3d;
  CHECK(refusal([&] { from_json(json{{"output", "logit"}}, x3d); }) == R"(X3DOptions::output: expected one of logits, features, got "logit")");
  CHECK_THROWS_WITH(enum_from_name<KeyNaming>("hf"), "unknown value 'hf' (accepted: native, hugging_face)");
  CHECK(enum_from_name<KeyNaming>("hugging_face") == KeyNaming::hugging_face);
}

TEST_CASE("JSON: one object sets several reflected structs, an unknown key listing all their members", "[json]") {
  SamplerOptions sampler;
  KnnOptions knn;
  from_json_into(json{{"seed", 4}, {"k", 3}}, "\"eval\"", sampler, knn);
  CHECK(sampler.seed == 4);
  CHECK(knn.k == 3);
  CHECK(refusal([&] { from_json_into(json{{"kk", 3}}, "\"eval\"", sampler, knn); }) ==
        R"(unknown key 'kk' in "eval" (accepted: seed, epochs, k, temperature, chunk))");
  CHECK(refusal([&] { from_json_into(json{{"k", "3"}}, "\"eval\"", sampler, knn); }).starts_with(R"(KnnOptions::k: expected an integer)"));
}

TEST_CASE("JSON: every *Options struct of the library round-trips", "[json]") {
  round_trips(SyntheticOptions{.fps = {30000, 1001}});
  round_trips(SyntheticStreamOptions{});
  round_trips(SampleOptions{.resume = SamplerState{.kind = "sequential", .values = {1, 2, 3}}, .workers = 2});
  round_trips(SampleOptions{});
  round_trips(ViTBlockOptions{});
  round_trips(VideoViTOptions{});
  round_trips(VideoMAEDecoderOptions{});
  round_trips(X3DOptions{.output = X3DOutput::features});
  round_trips(CheckpointOptions{.prefix = "encoder.", .naming = KeyNaming::hugging_face});
  round_trips(MoCoOptions{.crop_scale = {0.3, 0.9}});
  round_trips(VideoMAEOptions{});
  round_trips(DistillOptions{.teacher = "X3D_M.pyth"});
  round_trips(PretrainerOptions{});
  round_trips(ActionClipOptions{});
  round_trips(Ucf101Options{.lists = "ucfTrainTestlist"});
  round_trips(Hmdb51Options{});
  round_trips(SyntheticActionsOptions{});
  round_trips(FinetuneOptions{});
  round_trips(KnnOptions{});
  round_trips(LinearProbeOptions{});
  round_trips(ReducerOptions{});
  round_trips(ProcessGroupOptions{.timeout = std::chrono::milliseconds(1500)});
  round_trips(SamplerOptions{});
  round_trips(ContextOptions{});
  round_trips(ReaderOptions{.device = "cuda:0"});
  round_trips(WriterOptions{.codec = "mpeg4"});
  CHECK(json::parse(to_json(ProcessGroupOptions{.timeout = std::chrono::milliseconds(1500)})) == json{{"timeout", 1500}, {"device", "cpu"}});
  CHECK(refusal([] { (void)from_json<ProcessGroupOptions>(json{{"device", "tpu"}}); }) ==
        R"(ProcessGroupOptions::device: expected a valid value, got "tpu")");
  CHECK(json::parse(to_json(SyntheticOptions{})).at("fps") == json{{"num", 25}, {"den", 1}});
}
