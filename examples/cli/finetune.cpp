// SPDX-License-Identifier: MIT
// `longform finetune`: evaluate an encoder on action recognition — full fine-tuning, a linear
// probe or kNN on frozen features — over UCF101, HMDB51, a folder per class, CSV lists or the
// built-in synthetic action set; writes a results JSON (top-1, top-5, per-class, confusion).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/tensor.h>
#include <nlohmann/json.hpp>

#include <longform/backbone/vit.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/threads.hpp>
#include <longform/data.hpp>
#include <longform/eval.hpp>
#include <longform/io/video_reader.hpp>
#include <longform/train/tensorboard.hpp>

#include "backbones.hpp"
#include "bad_input.hpp"
#include "commands.hpp"
#include "finetune.hpp"

namespace {

using longform::cli::FinetuneArgs;

longform::ActionSplit load_split(const FinetuneArgs& a) {
  if (a.dataset == "ucf101") return longform::ucf101_split(a.root, a.split, {.lists = a.lists});
  if (a.dataset == "hmdb51") return longform::hmdb51_split(a.root, a.split, {.lists = a.lists});
  if (a.dataset == "folder") return longform::folder_split(a.root);
  if (a.dataset == "csv") {
    if (a.train_list.empty() || a.test_list.empty()) throw longform::config_error("finetune: --dataset csv needs --train-list and --test-list");
    return longform::csv_split(a.train_list, a.test_list, a.root);
  }
  if (a.dataset == "synthetic") return longform::ucf101_split(longform::cli::synthetic_actions_root(a.root, a.synthetic), a.split);
  throw longform::config_error("finetune: unknown --dataset " + a.dataset);
}

// Every video is opened once before any training, so that a bad one (not a video, damaged, no
// frames) is skipped and named here instead of stopping the run when its turn comes.
std::vector<longform::LabeledVideo> readable(const std::vector<longform::LabeledVideo>& videos, longform::cli::SkippedInputs& skipped) {
  std::vector<longform::LabeledVideo> out;
  for (const auto& v : videos) {
    try {
      longform::VideoReader reader(v.path.string(), {.threads = 1});
      if (reader.frame_count() == 0) throw longform::decode_error(v.path.string(), "open", "the video has no frames");
      out.push_back(v);
    } catch (const longform::error& e) {
      skipped.skip(v.path.string(), e.what());
    }
  }
  return out;
}

at::Tensor labels_of(const std::vector<longform::LabeledVideo>& videos) {
  std::vector<std::int64_t> y;
  for (const auto& v : videos) y.push_back(v.label);
  return at::tensor(y, at::kLong);
}

// The linear probe's weight decay, when not given: the best on held-out training videos (whole
// groups where the names say them), then the probe is refit on all of them. Left as it is when
// the training set is too small to hold any out.
void select_weight_decay(longform::LinearProbeOptions& o, const longform::ActionSplit& split, const longform::ActionClips& train,
                         const at::Tensor& train_x, const at::Tensor& train_y, std::int64_t classes, nlohmann::json& info) {
  const std::vector<bool> held = longform::holdout_videos(split.train);
  const auto held_count = std::count(held.begin(), held.end(), true);
  if (held_count == 0) return;
  std::vector<std::uint8_t> held_bytes(held.begin(), held.end());
  const at::Tensor held_views = at::tensor(held_bytes).to(at::kBool).repeat_interleave(train.views());
  const auto choice = longform::select_weight_decay(train_x.flatten(0, 1), train_y, classes, held_views, o);
  o.weight_decay = choice.weight_decay;
  nlohmann::json tried = nlohmann::json::array();
  for (std::size_t i = 0; i < choice.candidates.size(); ++i)
    tried.push_back({{"weight_decay", choice.candidates[i]}, {"top1", choice.holdout_top1[i]}});
  info["weight_decay_holdout"] = tried;
  info["holdout_videos"] = held_count;
}

// The protocol on one encoder type: class scores [N, C] of the test videos. `encoder` is a
// holder: the caller's copy shares the module that fine-tuning trains. The frozen-feature
// protocols leave the test views' features in `test_features` (for the motion share).
template <class Encoder>
at::Tensor run_protocol(Encoder encoder, std::int64_t feature_dim, const FinetuneArgs& a, const longform::ActionSplit& split,
                        const longform::ActionClips& train, const longform::ActionClips& test, nlohmann::json& info, at::Tensor& test_features) {
  const auto classes = static_cast<std::int64_t>(split.num_classes());
  const c10::Device device(a.device);
  if (a.protocol == "finetune") {
    const longform::FinetuneOptions o{.epochs = a.epochs > 0 ? a.epochs : (a.dataset == "hmdb51" ? 30 : 10),
                                      .batch = a.batch,
                                      .lr = a.lr > 0 ? a.lr : 1e-3,
                                      .weight_decay = a.weight_decay >= 0 ? a.weight_decay : 0.05,
                                      .device = a.device,
                                      .seed = a.seed,
                                      .progress = a.progress};
    info["epochs"] = o.epochs;
    info["lr"] = o.lr;
    // Each epoch's mean training loss, for the results (and --tensorboard).
    auto on_epoch = [&info](std::int64_t, double loss) { info["train_losses"].push_back(loss); };
    return longform::average_view_predictions(longform::finetune(std::move(encoder), feature_dim, train, test, classes, o, on_epoch));
  }
  // Frozen features: every view of every training video is a training sample.
  const at::Tensor train_x = longform::view_features(encoder, train, device, 16, "train features", a.progress);
  const at::Tensor test_x = test_features = longform::view_features(encoder, test, device, 16, "test features", a.progress);
  const at::Tensor train_y = labels_of(split.train).repeat_interleave(train.views());
  if (a.protocol == "linear") {
    longform::LinearProbeOptions o{.epochs = a.epochs > 0 ? a.epochs : 100,
                                   .lr = a.lr > 0 ? a.lr : 1e-2,
                                   .weight_decay = a.weight_decay >= 0 ? a.weight_decay : 1e-4,
                                   .seed = a.seed};
    if (a.weight_decay < 0) select_weight_decay(o, split, train, train_x, train_y, classes, info);
    longform::LinearProbe probe(o);
    info["epochs"] = o.epochs;
    info["lr"] = o.lr;
    info["weight_decay"] = o.weight_decay;
    info["train_loss"] = probe.fit(train_x.flatten(0, 1), train_y, classes);
    return longform::average_view_predictions(probe.logits(test_x));
  }
  if (a.protocol == "knn") {
    info["k"] = a.k;
    info["temperature"] = a.temperature;
    // One feature per video: the mean over its views.
    return longform::knn_scores(train_x.mean(1), labels_of(split.train), test_x.mean(1), {.k = a.k, .temperature = a.temperature}, classes);
  }
  throw longform::config_error("finetune: unknown --protocol " + a.protocol);
}

// The protocol, then what was asked of the encoder it evaluated (fine-tuned or frozen): its
// state dict saved, its motion share measured on the test views.
template <class Encoder>
at::Tensor evaluate(Encoder encoder, std::int64_t feature_dim, const FinetuneArgs& a, const longform::ActionSplit& split, nlohmann::json& info) {
  const longform::ActionClipOptions clip_options{
      .frames = a.frames, .stride = a.stride, .size = a.size, .clips = a.clips, .crops = a.crops, .flip = a.flip};
  const longform::ActionClips train(split.train, clip_options), test(split.test, clip_options);
  Encoder evaluated = encoder;  // a holder: shares the module the protocol trains or reads
  at::Tensor test_features;
  auto scores = run_protocol(std::move(encoder), feature_dim, a, split, train, test, info, test_features);
  if (!a.save.empty()) {
    longform::save_state_dict(*evaluated, a.save);
    info["saved"] = a.save;
  }
  if (a.motion_share) {
    const c10::Device device(a.device);
    const auto m = test_features.defined() ? longform::motion_share(evaluated, test, test_features, device, 16, a.progress)
                                           : longform::motion_share(evaluated, test, device, 16, a.progress);
    info["motion_share"] = {{"share", m.share}, {"frozen_distance", m.frozen_distance}, {"between_distance", m.between_distance}};
  }
  return scores;
}

/// The metrics as JSON; `classes` (id order) names the per-class entries when given.
nlohmann::json metrics_json(const longform::ClassificationMetrics& m, const std::vector<std::string>& classes = {}) {
  nlohmann::json per_class = nlohmann::json::array();
  for (std::size_t j = 0; j < m.per_class.size(); ++j) {
    nlohmann::json e{{"id", j}, {"count", m.class_count[j]}};
    if (j < classes.size()) e["name"] = classes[j];
    e["accuracy"] = m.class_count[j] > 0 ? nlohmann::json(m.per_class[j]) : nlohmann::json(nullptr);
    per_class.push_back(std::move(e));
  }
  return {{"count", m.count},       {"top1", m.top1},          {"top5", m.top5}, {"mean_class_accuracy", m.mean_class_accuracy},
          {"per_class", per_class}, {"confusion", m.confusion}};
}

// --tensorboard: the training loss of each epoch (linear: of the last), then top-1 and top-5 at the last epoch.
void write_tensorboard(const std::string& dir, const nlohmann::json& r) {
  longform::TensorBoard board(dir);
  const std::int64_t epochs = r.value("epochs", std::int64_t{0});
  if (r.contains("train_losses")) {
    for (std::size_t e = 0; e < r["train_losses"].size(); ++e)
      board.scalar("finetune/train_loss", static_cast<std::int64_t>(e + 1), r["train_losses"][e].get<double>());
  } else if (r.contains("train_loss")) {
    board.scalar("finetune/train_loss", epochs, r["train_loss"].get<double>());
  }
  board.scalars(epochs, {{"finetune/top1", r["top1"].get<double>()}, {"finetune/top5", r["top5"].get<double>()}});
}

template <class Encoder>
std::string load(Encoder& encoder, const FinetuneArgs& a) {
  if (a.weights.empty()) return "random-init (seed " + std::to_string(a.seed) + ")";
  return longform::load_pretrained(*encoder, a.weights);
}

}  // namespace

std::string longform::cli::synthetic_actions_root(const std::string& root, const SyntheticActionsOptions& options) {
  const longform::SyntheticActions actions(options);
  std::filesystem::path dir = root;
  if (dir.empty()) {
    const char* cache = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    dir = cache ? std::filesystem::path(cache) : std::filesystem::path(home ? home : ".") / ".cache";
    // Named by the options a command line sets, then by a hash (FNV-1a) of the whole description:
    // data sets of different options never share a folder.
    std::uint32_t hash = 2166136261u;
    for (const char c : actions.description()) hash = (hash ^ static_cast<std::uint8_t>(c)) * 16777619u;
    char name[128];
    std::snprintf(name, sizeof name, "synthetic-actions-%s-%dclips-seed%llu-%08x", std::string(longform::enum_name(options.backgrounds)).c_str(),
                  options.clips_per_group, static_cast<unsigned long long>(options.seed), hash);
    dir = dir / "longform" / name;
  }
  if (!std::filesystem::exists(dir / ".longform-dataset")) {
    std::fprintf(stderr, "longform: writing the built-in action data set (%lld videos) to %s\n", static_cast<long long>(actions.size()),
                 dir.string().c_str());
  }
  return actions.ensure(dir).string();
}

nlohmann::json longform::cli::run_finetune(const FinetuneArgs& a) {
  const auto started = std::chrono::steady_clock::now();
  if (!a.save.empty() && a.protocol != "finetune")
    throw longform::config_error("finetune: --save needs --protocol finetune (the other protocols train no encoder)");
  // Decoding runs on this thread between forward passes: all cores go to LibTorch.
  at::set_num_threads(a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  longform::ActionSplit split = load_split(a);
  longform::cli::SkippedInputs skipped;
  split.train = readable(split.train, skipped);
  split.test = readable(split.test, skipped);
  if (split.train.empty() || split.test.empty())
    skipped.finish(false, std::string("finetune: no readable ") + (split.train.empty() ? "training" : "test") + " video");
  nlohmann::json info{{"dataset", a.dataset},
                      {"split", a.split},
                      {"protocol", a.protocol},
                      {"arch", a.arch},
                      {"weights", a.weights},
                      {"frames", a.frames},
                      {"stride", a.stride},
                      {"size", a.size},
                      {"clips", a.clips},
                      {"crops", a.crops},
                      {"seed", a.seed},
                      {"classes", split.num_classes()},
                      {"train_videos", split.train.size()},
                      {"test_videos", split.test.size()},
                      {"skipped", skipped.json()}};
  if (a.dataset == "synthetic") info["synthetic"] = longform::SyntheticActions(a.synthetic).description();
  at::manual_seed(a.seed);  // a random-init encoder is this seed's
  at::Tensor scores;
  if (const auto x3d = longform::cli::x3d_preset(a.arch, a.frames, a.size)) {
    auto o = *x3d;
    o.output = longform::X3DOutput::features;
    longform::X3D encoder(o);
    info["loaded"] = load(encoder, a);
    scores = evaluate(encoder, o.head_dim_out, a, split, info);
  } else if (const auto vit = longform::cli::vit_preset(a.arch, a.frames, a.size)) {
    longform::VideoViT encoder(*vit);
    info["loaded"] = load(encoder, a);
    scores = evaluate(encoder, encoder->feature_dim(), a, split, info);
  } else {
    throw longform::config_error("finetune: unknown --arch " + a.arch);
  }
  const auto metrics = longform::classification_metrics(scores, labels_of(split.test));
  nlohmann::json out = info;
  out["metrics"] = metrics_json(metrics, split.classes);
  out["top1"] = metrics.top1;
  out["top5"] = metrics.top5;
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!a.tensorboard.empty()) write_tensorboard(a.tensorboard, out);
  if (!a.out.empty()) {
    const std::filesystem::path path(a.out);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    std::ofstream f(path);
    f << out.dump(2) << "\n";
    if (!f) throw longform::config_error(a.out + ": cannot write the results");
  }
  return out;
}

void add_finetune_command(CLI::App& app) {
  auto a = std::make_shared<FinetuneArgs>();
  auto* cmd = app.add_subcommand("finetune", "Evaluate an encoder on action recognition: fine-tuning, linear probe or kNN");
  cmd->add_option("--dataset", a->dataset,
                  "ucf101 | hmdb51 | folder (ROOT/{train,test}/<class>/, files with a video extension) | csv | synthetic (built in); "
                  "videos that do not open are skipped and named")
      ->check(CLI::IsMember({"ucf101", "hmdb51", "folder", "csv", "synthetic"}))
      ->capture_default_str();
  cmd->add_option("--root", a->root,
                  "Data set root (videos; synthetic: where to write it, default a folder of ~/.cache/longform named by the --synthetic-* options)");
  cmd->add_option("--lists", a->lists,
                  "Folder of the official split files (default: ROOT/ucfTrainTestlist or ROOT/testTrainMulti_7030_splits, else ROOT)");
  cmd->add_option("--train-list", a->train_list, "csv: training list, lines '<path>,<class name>'");
  cmd->add_option("--test-list", a->test_list, "csv: test list");
  cmd->add_option("--split", a->split, "Official split (1-3)")->check(CLI::Range(1, 3))->capture_default_str();
  cmd->add_option("--weights", a->weights, "A `longform pretrain` checkpoint or a backbone state dict (none: random init)")->check(CLI::ExistingFile);
  cmd->add_option("--arch", a->arch, "Backbone")->check(CLI::IsMember(longform::cli::arch_names()))->capture_default_str();
  cmd->add_option("--protocol", a->protocol, "finetune | linear | knn")->check(CLI::IsMember({"finetune", "linear", "knn"}))->capture_default_str();
  cmd->add_option("--frames", a->frames, "T, frames per clip")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--stride", a->stride, "τ, frame step inside a clip")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--size", a->size, "Short side and crop side")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--clips", a->clips, "Test: temporal clips per video (K)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--crops", a->crops, "Test: spatial crops per clip (1 or 3)")->check(CLI::IsMember({1, 3}))->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "Epochs (default: finetune 10, 30 for hmdb51; linear 100)");
  cmd->add_option("--batch", a->batch, "finetune: clips per step")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", a->lr, "Peak learning rate (default: finetune 1e-3, linear 1e-2)");
  cmd->add_option("--weight-decay", a->weight_decay,
                  "Weight decay (default: finetune 0.05; linear: the best of 1e-4 to 30 on held-out training videos)");
  cmd->add_option("--k", a->k, "knn: neighbours")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "knn: vote weight exp(cos / T); 0: plain votes")->capture_default_str();
  cmd->add_flag("--flip", a->flip, "finetune: random horizontal flips (off: they swap left and right motions)");
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the classifier, the clip positions and a random-init encoder (not of the synthetic data set)")
      ->capture_default_str();
  cmd->add_option("--synthetic-clips-per-group", a->synthetic.clips_per_group,
                  "synthetic: videos per group and class (10 classes x 8 groups; a split tests on 2 groups: 20 x this many videos)")
      ->check(CLI::Range(1, 99))
      ->capture_default_str();
  auto backgrounds = std::make_shared<std::string>(longform::enum_name(a->synthetic.backgrounds));
  std::vector<std::string> background_names;
  for (const auto& [kind, name] : enum_names(longform::SyntheticBackgrounds{})) background_names.emplace_back(name);
  cmd->add_option(
         "--synthetic-backgrounds", *backgrounds,
         "synthetic: per_video (the test videos are independent) | per_group (one per group, every class's: the sets written before this option)")
      ->check(CLI::IsMember(background_names))
      ->capture_default_str();
  cmd->add_option("--synthetic-seed", a->synthetic.seed, "synthetic: seed of the data set, the same whatever --seed is")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Cores to use (0 = all)")->capture_default_str();
  cmd->add_option("--out", a->out, "Write the results JSON here");
  cmd->add_option("--save", a->save, "finetune: write the fine-tuned encoder's state dict here (e.g. a distillation teacher)");
  cmd->add_option("--tensorboard", a->tensorboard, "Also write the training loss and top-1 as TensorBoard event files in this folder");
  cmd->add_flag("--motion-share", a->motion_share,
                "Also measure how far the evaluated encoder's features move when the test clips stop moving (results JSON: motion_share)");
  cmd->callback([a, backgrounds] {
    a->synthetic.backgrounds = longform::enum_from_name<longform::SyntheticBackgrounds>(*backgrounds);
    const auto r = longform::cli::run_finetune(*a);
    nlohmann::json line{{"dataset", r["dataset"]},   {"split", r["split"]},
                        {"protocol", r["protocol"]}, {"weights", r["weights"]},
                        {"loaded", r["loaded"]},     {"top1", r["top1"]},
                        {"top5", r["top5"]},         {"mean_class_accuracy", r["metrics"]["mean_class_accuracy"]},
                        {"seconds", r["seconds"]},   {"skipped", r["skipped"]}};
    if (r.contains("motion_share")) line["motion_share"] = r["motion_share"]["share"];
    std::printf("%s\n", line.dump().c_str());
    longform::cli::exit_status_from(r["skipped"]);
  });
}
