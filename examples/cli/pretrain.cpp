// SPDX-License-Identifier: MIT
// `longform pretrain`: online self-supervised pre-training from the command line.
//
// The run-time choices (--method, --sampler) are names in two tables (the methods here, the
// samplers in samplers.hpp); every number (--frames, --stride, --size, ...) goes into the
// dynamic-extent parameters, and source, sampler and objective are type-erased (AnySource,
// AnySampler, AnyObjective), so the command holds one `Pretrainer`, whatever it is told.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/json.hpp>
#include <longform/core/reflect.hpp>
#include <longform/core/threads.hpp>
#include <longform/distributed/env.hpp>
#include <longform/distributed/process_group.hpp>  // the Pretrainer joins torchrun jobs on c10d
#include <longform/eval/pretrained.hpp>
#include <longform/io/ffmpeg_log.hpp>
#include <longform/objective/any_objective.hpp>
#include <longform/objective/distill.hpp>
#include <longform/objective/moco.hpp>
#include <longform/objective/videomae.hpp>
#include <longform/source/any_source.hpp>
#include <longform/source/ava_videos.hpp>
#include <longform/source/forward_only.hpp>
#include <longform/source/stream.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/source/video_list.hpp>
#include <longform/train/options.hpp>
#include <longform/train/pretrainer.hpp>
#include <longform/train/tensorboard.hpp>

#include "backbones.hpp"
#include "bad_input.hpp"
#include "commands.hpp"
#include "decode_device.hpp"
#include "json_file.hpp"
#include "pretrain.hpp"
#include "samplers.hpp"

namespace {

using longform::cli::PretrainArgs;

longform::cli::SamplerArgs sampler_args(const PretrainArgs& a) {
  return {.frames = a.frames,
          .stride = a.stride,
          .segment_seconds = a.segment_seconds,
          .streams = a.streams,
          .capacity = a.capacity,
          .seed = a.options.seed,
          .epochs = 0,  // endless: the step count ends the run
          .batch = a.options.batch,
          .replay = a.replay};
}

// --- the objectives --------------------------------------------------------------------------
longform::X3DOptions x3d_options(const PretrainArgs& a) {
  const std::string arch = a.arch.empty() ? "x3d_m" : a.arch;
  const auto o = longform::cli::x3d_preset(arch, a.frames, a.options.size);
  if (!o) throw longform::config_error("pretrain: --arch " + arch + " is not an X3D (x3d_tiny|xs|s|m|l)");
  return *o;
}

longform::VideoMAE<longform::VideoViT> videomae(const PretrainArgs& a) {
  const std::string arch = a.arch.empty() ? "vit_s" : a.arch;
  const auto o = longform::cli::vit_preset(arch, a.frames, a.options.size);
  if (!o) throw longform::config_error("pretrain: --arch " + arch + " is not a ViT (vit_tiny|vit_s|vit_b)");
  longform::VideoViT encoder(*o);
  if (!a.init.empty()) longform::load_checkpoint(*encoder, a.init);
  return longform::VideoMAE<longform::VideoViT>(longform::VideoMAEOptions{.mask_ratio = a.mask_ratio, .seed = a.options.seed}, encoder);
}
longform::MoCo<longform::X3D> moco(const PretrainArgs& a) {
  auto o = x3d_options(a);
  o.output = longform::X3DOutput::features;
  return longform::MoCo<longform::X3D>(longform::MoCoOptions{.queue_size = a.queue_size, .flip_p = a.flip_p, .seed = a.options.seed, .init = a.init},
                                       longform::X3D(o));
}
// `--distill-target features` distils the pooled features (KL of their softened distributions
// plus their cosine): the teacher can then be any pre-trained encoder, a `longform pretrain`
// checkpoint included, not only a classifier with a head.
longform::Distill<longform::X3D> distill(const PretrainArgs& a) {
  auto o = x3d_options(a);
  if (a.distill_target != "logits" && a.distill_target != "features")
    throw longform::config_error("pretrain: distill target must be logits or features (was '" + a.distill_target + "')");
  const bool features = a.distill_target == "features";
  if (features) o.output = longform::X3DOutput::features;
  longform::X3D teacher(o), student(o);
  if (a.teacher.empty())
    std::fprintf(stderr, "longform pretrain: no --teacher; the teacher keeps its random initialisation (smoke test)\n");
  else
    longform::load_pretrained(*teacher, a.teacher);  // a state dict, a .pyth, or a training checkpoint's encoder
  if (!a.init.empty()) longform::load_checkpoint(*student, a.init);
  return longform::Distill<longform::X3D>(longform::DistillOptions{.feature_weight = features ? 1.0 : 0.0}, teacher, student);
}

// Every method, by its --method name.
const std::vector<longform::cli::Named<longform::AnyObjective (*)(const PretrainArgs&)>>& methods() {
  static const std::vector<longform::cli::Named<longform::AnyObjective (*)(const PretrainArgs&)>> table{
      {"videomae", [](const PretrainArgs& a) { return longform::AnyObjective(videomae(a)); }},
      {"moco", [](const PretrainArgs& a) { return longform::AnyObjective(moco(a)); }},
      {"distill", [](const PretrainArgs& a) { return longform::AnyObjective(distill(a)); }},
  };
  return table;
}

longform::AnySource make_source(const PretrainArgs& a, const longform::ThreadBudget& budget) {
  const int given = int(!a.videos.empty()) + int(!a.ava.empty()) + int(a.synthetic);
  if (given != 1) throw longform::config_error("pretrain: give exactly one of --videos, --ava, --synthetic");
  if (a.synthetic) {
    // The built-in benchmark's long-form videos (scenes of moving objects, 3 minutes each); as
    // many as multistream needs.
    const std::int64_t side = std::max<std::int64_t>(a.options.size, 32);
    return longform::AnySource(longform::SyntheticStream({.seed = a.options.seed,
                                                          .videos = static_cast<std::size_t>(std::max<std::int64_t>(a.streams, 4)),
                                                          .frames = 3 * 60 * 25,
                                                          .width = (side * 5 / 4 + 1) / 2 * 2,
                                                          .height = (side + 1) / 2 * 2}));
  }
  // Each video decoded straight to the short side (swscale), whatever its orientation.
  // Several decode workers: one FFmpeg thread each; one reader: frame threads.
  const bool one_reader = a.options.decode_workers == 1 || longform::is_forward_only_input(a.videos);
  // --decode-device cuda: NVDEC, clips already on the GPU (the upload is skipped); CPU decoding,
  // said in one line, where it cannot run. The probe video: --videos when it is one file.
  std::optional<std::string> probe;
  std::error_code ec;
  if (!a.videos.empty() && std::filesystem::is_regular_file(a.videos, ec) && longform::VideoList::is_video_file_name(a.videos)) probe = a.videos;
  const std::string device = longform::cli::decode_device(a.decode_device, "pretrain", probe);
  const longform::ReaderOptions reader{
      .threads = budget.decoder_threads(one_reader ? 1 : budget.workers), .short_side = a.options.size, .device = device};
  if (longform::is_forward_only_input(a.videos)) {  // standard input, a pipe, a live URL: opened once
    return longform::AnySource(longform::Stream(a.videos, reader));
  }
  if (!a.videos.empty()) return longform::AnySource(longform::VideoList::from_path(a.videos, reader));
  const auto root = a.ava_root.empty() ? std::filesystem::path(a.ava).parent_path() : std::filesystem::path(a.ava_root);
  return longform::AnySource(longform::AvaVideos(a.ava, root, {}, reader));
}

// An earlier run's checkpoint and metrics are replaced only when asked (--overwrite); --resume
// continues them.
void refuse_to_overwrite(const PretrainArgs& a) {
  if (a.options.resume || a.options.out_dir.empty()) return;
  const std::filesystem::path out = a.options.out_dir;
  for (const char* name : {"checkpoint.pt", "metrics.jsonl"}) {
    std::error_code ec;
    if (!std::filesystem::exists(out / name, ec)) continue;
    if (!a.overwrite) {
      throw longform::config_error("pretrain: " + (out / name).string() +
                                   " is an earlier run's; --resume continues it, --overwrite replaces it, or choose another --out");
    }
    std::filesystem::remove(out / name, ec);  // a new run that fails early must not leave the old checkpoint beside its metrics
  }
}

nlohmann::json train(const PretrainArgs& a, longform::AnySource source) {
  // NOTE: LibTorch seeds its default CPU generator non-deterministically at start-up; seed it
  // before the networks are initialised, so two runs with one --seed start from the same weights.
  at::manual_seed(a.options.seed);
  // Under torchrun each rank draws its own augmentations and masks (the weights come from rank 0).
  PretrainArgs per_rank = a;
  per_rank.options.seed += static_cast<std::uint64_t>(a.rank);
  longform::Pretrainer<longform::AnySampler, longform::AnyObjective, longform::AnySource> trainer(
      std::move(source), longform::cli::make_sampler(a.sampler, sampler_args(a)), longform::cli::find_named(methods(), a.method, "method")(per_rank),
      a.options);
  if (!a.tensorboard.empty()) trainer.observe(longform::TensorBoard(a.tensorboard));
  const auto r = trainer.run(a.stop_at);
  if (trainer.rank() != 0) return nullptr;  // one summary per job
  const auto ran = r.last_step - r.first_step;
  if (ran == 0 && !r.exhausted) {
    const auto goal = a.stop_at > 0 ? std::min(a.stop_at, a.options.steps) : a.options.steps;
    std::fprintf(stderr, "longform pretrain: nothing to do: %s is at step %lld, and this run ends at step %lld (--steps%s)\n",
                 r.checkpoint.string().c_str(), static_cast<long long>(r.first_step), static_cast<long long>(goal),
                 a.stop_at > 0 ? ", --stop-at" : "");
  }
  longform::cli::SkippedInputs skipped;  // the Pretrainer named each on stderr already
  for (const auto& v : r.skipped) skipped.record(v);
  nlohmann::json line{{"method", a.method},
                      {"sampler", a.sampler},
                      {"steps", r.last_step},
                      {"steps_run", ran},
                      {"seconds", r.seconds},
                      {"step_s", ran > 0 ? r.seconds / static_cast<double>(ran) : 0.0},
                      {"startup_s", r.startup_seconds},
                      {"clips_per_s", r.clips_per_s},
                      {"data_wait_share", r.data_wait_share},
                      {"decode_amplification", r.decode_amplification},
                      {"exhausted", r.exhausted},
                      {"corrupt_packets", r.corrupt_packets},
                      {"ffmpeg_errors", longform::ffmpeg_log_counts().errors},
                      {"skipped", skipped.json()},
                      {"checkpoint", r.checkpoint.string()},
                      {"options", a.options}};
  if (!r.losses.empty()) line["loss"] = r.losses.back();  // the last step's; no step ran, no loss
  return line;
}

}  // namespace

std::vector<std::string> longform::cli::method_names() { return names_of(methods()); }

nlohmann::json longform::cli::run_pretrain(PretrainArgs a) {
  if (!a.config.empty()) {
    // The config file first, then every flag given on the command line on top of it.
    const nlohmann::json flags = a.options;
    nlohmann::json given = nlohmann::json::object();
    for (const auto& [member, option] : a.flags)
      if (option->count() > 0) given[member] = flags[member];
    longform::PretrainerOptions o{.out_dir = a.options.out_dir};
    bind_json(read_json_file(a.config), a.config, "PretrainerOptions", o);
    longform::from_json(given, o);
    a.options = o;
  }
  const auto env = a.options.distributed ? longform::DistributedEnv::from_environment() : std::nullopt;
  if (env) a.rank = env->rank;
  // N processes on one machine share its cores unless --threads says otherwise.
  const char* local_world = std::getenv("LOCAL_WORLD_SIZE");
  const int sharing = env ? std::max(1, local_world ? std::atoi(local_world) : env->world_size) : 1;
  const int cores =
      a.options.threads > 0 ? static_cast<int>(a.options.threads) : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / sharing);
  const longform::ThreadBudget budget = longform::ThreadBudget::plan(cores, 1);
  budget.apply();
  a.options.threads = 0;  // applied here, with the decoder share given to the source
  if (a.options.decode_workers == 0) a.options.decode_workers = budget.workers;
  refuse_to_overwrite(a);
  return train(a, make_source(a, budget));
}

void add_pretrain_command(CLI::App& app) {
  auto a = std::make_shared<longform::cli::PretrainArgs>();
  auto* cmd = app.add_subcommand("pretrain", "Online self-supervised pre-training (VideoMAE, MoCo, distillation) over a clip stream");
  auto& o = a->options;
  // Each flag that sets a PretrainerOptions member names it; a name that is no member does not compile.
  auto flag = [&](longform::member_of<longform::PretrainerOptions> member, CLI::Option* opt) {
    a->flags[std::string(member.name())] = opt;
    return opt->capture_default_str();
  };
  cmd->add_option("--method", a->method, "Objective")->check(CLI::IsMember(longform::cli::method_names()))->capture_default_str();
  cmd->add_option("--sampler", a->sampler, "Clip sampler")->check(CLI::IsMember(names_of(longform::cli::samplers())))->capture_default_str();
  cmd->add_option("--arch", a->arch,
                  "Backbone: x3d_tiny|x3d_xs|x3d_s|x3d_m|x3d_l (moco, distill; default x3d_m), vit_tiny|vit_s|vit_b (videomae; default vit_s)")
      ->check(CLI::IsMember(longform::cli::arch_names()));
  cmd->add_option("--videos", a->videos, "A video file, a folder of videos, a list file (one path per line), or - / pipe:N / a live URL");
  cmd->add_option("--ava", a->ava, "AVA list file (movie names; the 15-min training window of each)");
  cmd->add_option("--ava-root", a->ava_root, "Folder of the AVA movies (default: the list's folder)");
  cmd->add_flag("--synthetic", a->synthetic, "The built-in benchmark's long-form videos (SyntheticStream): runs with no files");
  cmd->add_option("--frames", a->frames, "T, frames per clip")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--stride", a->stride, "τ, frame step inside a clip")->check(CLI::PositiveNumber)->capture_default_str();
  flag("size", cmd->add_option("--size", o.size, "Clip side (short side scaled, center crop)")->check(CLI::PositiveNumber));
  cmd->add_option("--streams", a->streams, "multistream: parallel streams")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--capacity", a->capacity, "replay: clips in the buffer")->check(CLI::PositiveNumber)->capture_default_str();
  longform::cli::add_replay_options(cmd, a->replay);
  cmd->add_option("--segment-seconds", a->segment_seconds, "random: segment length (s)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--mask-ratio", a->mask_ratio, "videomae: masked share of positions (paper 0.5)")->capture_default_str();
  cmd->add_option("--queue-size", a->queue_size, "moco: negatives in the queue")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--init", a->init, "Checkpoint to initialise the trained encoder from (e.g. X3D_M.pyth)")->check(CLI::ExistingFile);
  cmd->add_option("--teacher", a->teacher, "distill: the teacher's checkpoint (a state dict, X3D_M.pyth, or a `longform pretrain` checkpoint)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--distill-target", a->distill_target, "distill: the teacher's logits, or its pooled features (any encoder as teacher)")
      ->check(CLI::IsMember({"logits", "features"}))
      ->capture_default_str();
  cmd->add_option("--flip-p", a->flip_p, "moco: probability of a horizontal flip per view (0 keeps left and right apart)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--stop-at", a->stop_at, "Pause after this step, checkpointed; rerun with --resume to continue the same run")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--config", a->config, "JSON object of PretrainerOptions members; flags given too override it")->check(CLI::ExistingFile);
  flag("steps", cmd->add_option("--steps", o.steps, "Optimizer steps")->check(CLI::PositiveNumber));
  flag("batch", cmd->add_option("--batch", o.batch, "Clips per batch")->check(CLI::PositiveNumber));
  flag("update_every",
       cmd->add_option("--update-every", o.update_every, "Batches per optimizer step, their gradients averaged (--steps counts optimizer steps)")
           ->check(CLI::PositiveNumber));
  flag("lr", cmd->add_option("--lr", o.lr, "Peak learning rate"));
  flag("warmup_steps", cmd->add_option("--warmup-steps", o.warmup_steps, "Linear warmup steps, then cosine decay"));
  flag("weight_decay", cmd->add_option("--weight-decay", o.weight_decay, "Weight decay"));
  flag("grad_clip", cmd->add_option("--grad-clip", o.grad_clip, "Max gradient norm (0 = off)"));
  flag("rms_alpha", cmd->add_option("--rms-alpha", o.rms_alpha, "rmsprop: decay of the squared-gradient average"));
  flag("orthogonal",
       cmd->add_flag("--orthogonal", o.orthogonal, "Step on the gradients' part orthogonal to their moving average, reset at each new video"));
  flag("orthogonal_beta", cmd->add_option("--orthogonal-beta", o.orthogonal_beta, "--orthogonal: decay of the gradients' moving average"));
  flag("device", cmd->add_option("--device", o.device, "cpu | cuda | cuda:N"));
  flag("seed", cmd->add_option("--seed", o.seed, "Seed of sampler, objective and LibTorch's generators"));
  flag("checkpoint_every", cmd->add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every N steps (0 = at the end only)"));
  flag("out_dir", cmd->add_option("--out", o.out_dir, "Folder for checkpoint.pt and metrics.jsonl"));
  flag("resume", cmd->add_flag("--resume", o.resume, "Continue from OUT/checkpoint.pt when it exists"));
  cmd->add_flag("--overwrite", a->overwrite, "Replace an earlier run's checkpoint.pt and metrics.jsonl in OUT (refused otherwise)");
  cmd->add_option("--tensorboard", a->tensorboard, "Also write the step metrics as TensorBoard event files in this folder");
  flag("prefetch", cmd->add_option("--prefetch", o.prefetch, "Batches prepared ahead")->check(CLI::PositiveNumber));
  flag("threads", cmd->add_option("--threads", o.threads, "Cores to use (0 = all, shared among the processes of a torchrun job on this machine)"));
  flag("decode_workers",
       cmd->add_option("--decode-workers", o.decode_workers, "Decoding threads, one reader each (0 = one per core; a pipe or live stream uses 1)")
           ->check(CLI::NonNegativeNumber));
  flag("distributed", cmd->add_option("--distributed", o.distributed, "Join the torchrun job of the environment (WORLD_SIZE > 1)"));
  flag("dist_timeout_s", cmd->add_option("--dist-timeout", o.dist_timeout_s, "Seconds a rank waits for the others (rendezvous, each collective)")
                             ->check(CLI::PositiveNumber));
  flag("dist_bucket_mib",
       cmd->add_option("--dist-bucket-mib", o.dist_bucket_mib, "Gradient all-reduce bucket size (MiB)")->check(CLI::PositiveNumber));
  flag("channels_last", cmd->add_flag("--channels-last", o.channels_last, "Weights in channels-last-3d (X3D: faster on CPU, much slower on CUDA)"));
  cmd->add_option("--decode-device", a->decode_device,
                  "Where videos are decoded: cpu, or cuda / cuda:N (NVDEC: clips start on the GPU; CPU decoding, said once, where it cannot run)")
      ->capture_default_str();
  auto optimizer = std::make_shared<std::string>(longform::enum_name(o.optimizer));
  std::vector<std::string> optimizers;
  for (const auto& [kind, name] : enum_names(longform::OptimizerKind{})) optimizers.emplace_back(name);
  flag("optimizer", cmd->add_option("--optimizer", *optimizer, "Optimizer")->check(CLI::IsMember(optimizers)));
  cmd->callback([a, optimizer] {
    a->options.optimizer = longform::enum_from_name<longform::OptimizerKind>(*optimizer);
    const auto line = longform::cli::run_pretrain(*a);
    if (line.is_null()) return;  // not rank 0
    std::printf("%s\n", line.dump().c_str());
    longform::cli::exit_status_from(line["skipped"]);
  });
}
