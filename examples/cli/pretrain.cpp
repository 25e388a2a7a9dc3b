// SPDX-License-Identifier: MIT
// `longform pretrain`: online self-supervised pre-training from the command line.
//
// The run-time choices (--method, --sampler) pick one `Pretrainer<Sampler, Objective, AnySource>`
// from two Boost.Hana type lists; every number (--frames, --stride, --size, ...) goes into the
// dynamic-extent parameters, and the source is type-erased (any_source.hpp), so the whole command
// holds methods × samplers = 12 instantiations, whatever the numbers and the source.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <nlohmann/json.hpp>

#include <longform/backbone/vit.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/backbone/x3d.hpp>
#include <longform/core/threads.hpp>
#include <longform/distributed/env.hpp>
#include <longform/eval/pretrained.hpp>
#include <longform/io/ffmpeg_log.hpp>
#include <longform/objective/distill.hpp>
#include <longform/objective/moco.hpp>
#include <longform/objective/videomae.hpp>
#include <longform/sampler.hpp>
#include <longform/source/ava_videos.hpp>
#include <longform/source/forward_only.hpp>
#include <longform/source/stream.hpp>
#include <longform/source/synthetic_stream.hpp>
#include <longform/source/video_list.hpp>
#include <longform/train/options.hpp>
#include <longform/train/pretrainer.hpp>

#include "any_source.hpp"
#include "backbones.hpp"
#include "bad_input.hpp"
#include "commands.hpp"
#include "decode_device.hpp"
#include "pretrain.hpp"

namespace {

namespace hana = boost::hana;
using longform::cli::PretrainArgs;
using longform::dynamic;
using Sequential = longform::SequentialSampler<longform::Frames<dynamic>, longform::Stride<dynamic>, longform::Hop<dynamic>>;
using Random = longform::RandomSampler<longform::SegmentSeconds<dynamic>, longform::Frames<dynamic>, longform::Stride<dynamic>,
                                       longform::Shuffle<dynamic>>;
using Multi = longform::MultiStream<longform::Streams<dynamic>, Sequential>;
using Replay = longform::ReplayBuffer<longform::Capacity<dynamic>, Sequential>;

// --- the samplers ----------------------------------------------------------------------------
Sequential sequential(const PretrainArgs& a) {
  return Sequential(longform::Frames<dynamic>{a.frames}, longform::Stride<dynamic>{a.stride}, longform::Hop<dynamic>{0},
                    {.seed = a.options.seed, .epochs = 0});  // endless: the step count ends the run
}
Sequential make_sampler(hana::basic_type<Sequential>, const PretrainArgs& a) { return sequential(a); }
Random make_sampler(hana::basic_type<Random>, const PretrainArgs& a) {
  return Random(longform::SegmentSeconds<dynamic>{a.segment_seconds}, longform::Frames<dynamic>{a.frames},
                longform::Stride<dynamic>{a.stride}, longform::Shuffle<dynamic>{true}, {.seed = a.options.seed, .epochs = 0});
}
Multi make_sampler(hana::basic_type<Multi>, const PretrainArgs& a) { return Multi(a.streams, sequential(a)); }
Replay make_sampler(hana::basic_type<Replay>, const PretrainArgs& a) { return Replay(a.capacity, sequential(a), a.options.seed); }

// --- the objectives --------------------------------------------------------------------------
longform::X3DOptions x3d_options(const PretrainArgs& a) {
  const std::string arch = a.arch.empty() ? "x3d_m" : a.arch;
  const auto o = longform::cli::x3d_preset(arch, a.frames, a.options.size);
  if (!o) throw longform::config_error("pretrain: --arch " + arch + " is not an X3D (x3d_tiny|xs|s|m|l)");
  return *o;
}

longform::VideoMAE<longform::VideoViT> make_objective(hana::basic_type<longform::VideoMAE<longform::VideoViT>>, const PretrainArgs& a) {
  const std::string arch = a.arch.empty() ? "vit_s" : a.arch;
  const auto o = longform::cli::vit_preset(arch, a.frames, a.options.size);
  if (!o) throw longform::config_error("pretrain: --arch " + arch + " is not a ViT (vit_tiny|vit_s|vit_b)");
  longform::VideoViT encoder(*o);
  if (!a.init.empty()) longform::load_checkpoint(*encoder, a.init);
  return longform::VideoMAE<longform::VideoViT>(longform::VideoMAEOptions{.mask_ratio = a.mask_ratio, .seed = a.options.seed}, encoder);
}
longform::MoCo<longform::X3D> make_objective(hana::basic_type<longform::MoCo<longform::X3D>>, const PretrainArgs& a) {
  auto o = x3d_options(a);
  o.output = longform::X3DOutput::features;
  return longform::MoCo<longform::X3D>(
      longform::MoCoOptions{.queue_size = a.queue_size, .flip_p = a.flip_p, .seed = a.options.seed, .init = a.init}, longform::X3D(o));
}
// `--distill-target features` distils the pooled features (KL of their softened distributions
// plus their cosine): the teacher can then be any pre-trained encoder, a `longform pretrain`
// checkpoint included, not only a classifier with a head.
longform::Distill<longform::X3D> make_objective(hana::basic_type<longform::Distill<longform::X3D>>, const PretrainArgs& a) {
  auto o = x3d_options(a);
  if (a.distill_target != "logits" && a.distill_target != "features")
    throw longform::config_error("pretrain: distill target must be logits or features (was '" + a.distill_target + "')");
  const bool features = a.distill_target == "features";
  if (features) o.output = longform::X3DOutput::features;
  longform::X3D teacher(o), student(o);
  if (a.teacher.empty()) std::fprintf(stderr, "longform pretrain: no --teacher; the teacher keeps its random initialisation (smoke test)\n");
  else longform::load_pretrained(*teacher, a.teacher);  // a state dict, a .pyth, or a training checkpoint's encoder
  if (!a.init.empty()) longform::load_checkpoint(*student, a.init);
  return longform::Distill<longform::X3D>(longform::DistillOptions{.feature_weight = features ? 1.0 : 0.0}, teacher, student);
}

// --- options from --config and flags ----------------------------------------------------------
// Every member of PretrainerOptions, by its name, through the Hana reflection of the struct.
void apply_config(longform::PretrainerOptions& o, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw longform::config_error(path + ": cannot open the config file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw longform::config_error(path + ": not JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw longform::config_error(path + ": the config must be a JSON object");
  std::vector<std::string> known;
  hana::for_each(hana::accessors<longform::PretrainerOptions>(), [&](auto pair) {
    const std::string key = hana::to<const char*>(hana::first(pair));
    known.push_back(key);
    if (!j.contains(key)) return;
    auto& member = hana::second(pair)(o);
    using T = std::remove_cvref_t<decltype(member)>;
    try {
      if constexpr (std::is_same_v<T, longform::OptimizerKind>) member = longform::optimizer_kind(j[key].get<std::string>());
      else member = j[key].get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw longform::config_error(path + ": '" + key + "' has the wrong type (" + e.what() + ")");
    }
  });
  for (const auto& item : j.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      throw longform::config_error(path + ": unknown option '" + item.key() + "' (accepted: " + CLI::detail::join(known, ", ") + ")");
    }
  }
}

longform::cli::AnySource make_source(const PretrainArgs& a, const longform::ThreadBudget& budget) {
  const int given = int(!a.videos.empty()) + int(!a.ava.empty()) + int(a.synthetic);
  if (given != 1) throw longform::config_error("pretrain: give exactly one of --videos, --ava, --synthetic");
  if (a.synthetic) {
    // The built-in benchmark's long-form videos (scenes of moving objects, 3 minutes each); as
    // many as multistream needs.
    const std::int64_t side = std::max<std::int64_t>(a.options.size, 32);
    return longform::cli::AnySource(longform::SyntheticStream({.seed = a.options.seed,
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
  const longform::ReaderOptions reader{.threads = budget.decoder_threads(one_reader ? 1 : budget.workers),
                                       .short_side = a.options.size,
                                       .device = device};
  if (longform::is_forward_only_input(a.videos)) {  // standard input, a pipe, a live URL: opened once
    return longform::cli::AnySource(longform::Stream(a.videos, reader));
  }
  if (!a.videos.empty()) return longform::cli::AnySource(longform::VideoList::from_path(a.videos, reader));
  const auto root = a.ava_root.empty() ? std::filesystem::path(a.ava).parent_path() : std::filesystem::path(a.ava_root);
  return longform::cli::AnySource(longform::AvaVideos(a.ava, root, {}, reader));
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

template <class S, class O>
nlohmann::json train(const PretrainArgs& a, longform::cli::AnySource source) {
  // NOTE: LibTorch seeds its default CPU generator non-deterministically at start-up; seed it
  // before the networks are initialised, so two runs with one --seed start from the same weights.
  at::manual_seed(a.options.seed);
  // Under torchrun each rank draws its own augmentations and masks (the weights come from rank 0).
  PretrainArgs per_rank = a;
  per_rank.options.seed += static_cast<std::uint64_t>(a.rank);
  longform::Pretrainer<S, O, longform::cli::AnySource> trainer(std::move(source), make_sampler(hana::type_c<S>, a),
                                                               make_objective(hana::type_c<O>, per_rank), a.options);
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
                      {"options", nlohmann::json::parse(longform::to_json(a.options))}};
  if (!r.losses.empty()) line["loss"] = r.losses.back();  // the last step's; no step ran, no loss
  return line;
}

}  // namespace

nlohmann::json longform::cli::run_pretrain(PretrainArgs a) {
  longform::PretrainerOptions flags = a.options;
  flags.optimizer = longform::optimizer_kind(a.optimizer);
  if (!a.config.empty()) {
    // The config file first, then every flag given on the command line on top of it.
    longform::PretrainerOptions o;
    o.out_dir = flags.out_dir;
    apply_config(o, a.config);
    hana::for_each(hana::accessors<longform::PretrainerOptions>(), [&](auto pair) {
      const auto it = a.flags.find(hana::to<const char*>(hana::first(pair)));
      if (it != a.flags.end() && it->second->count() > 0) hana::second(pair)(o) = hana::second(pair)(flags);
    });
    if (!a.optimizer_given) flags.optimizer = o.optimizer;
    o.optimizer = flags.optimizer;
    a.options = o;
  } else {
    a.options = flags;
  }
  const auto env = a.options.distributed ? longform::DistributedEnv::from_environment() : std::nullopt;
  if (env) a.rank = env->rank;
  // N processes on one machine share its cores unless --threads says otherwise.
  const char* local_world = std::getenv("LOCAL_WORLD_SIZE");
  const int sharing = env ? std::max(1, local_world ? std::atoi(local_world) : env->world_size) : 1;
  const int cores = a.options.threads > 0 ? static_cast<int>(a.options.threads)
                                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / sharing);
  const longform::ThreadBudget budget = longform::ThreadBudget::plan(cores, 1);
  budget.apply();
  a.options.threads = 0;  // applied here, with the decoder share given to the source
  if (a.options.decode_workers == 0) a.options.decode_workers = budget.workers;
  refuse_to_overwrite(a);
  auto source = make_source(a, budget);

  const auto samplers = hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("sequential"), hana::type_c<Sequential>),
                                         hana::make_pair(BOOST_HANA_STRING("random"), hana::type_c<Random>),
                                         hana::make_pair(BOOST_HANA_STRING("multistream"), hana::type_c<Multi>),
                                         hana::make_pair(BOOST_HANA_STRING("replay"), hana::type_c<Replay>));
  const auto methods =
      hana::make_tuple(hana::make_pair(BOOST_HANA_STRING("videomae"), hana::type_c<longform::VideoMAE<longform::VideoViT>>),
                       hana::make_pair(BOOST_HANA_STRING("moco"), hana::type_c<longform::MoCo<longform::X3D>>),
                       hana::make_pair(BOOST_HANA_STRING("distill"), hana::type_c<longform::Distill<longform::X3D>>));
  bool ran = false;
  nlohmann::json line;
  hana::for_each(methods, [&](auto method) {
    if (a.method != hana::to<const char*>(hana::first(method))) return;
    hana::for_each(samplers, [&](auto sampler) {
      if (a.sampler != hana::to<const char*>(hana::first(sampler))) return;
      using S = typename decltype(+hana::second(sampler))::type;
      using O = typename decltype(+hana::second(method))::type;
      line = train<S, O>(a, source);
      ran = true;
    });
  });
  if (!ran) throw longform::config_error("pretrain: unknown --method " + a.method + " or --sampler " + a.sampler);
  return line;
}

void add_pretrain_command(CLI::App& app) {
  auto a = std::make_shared<longform::cli::PretrainArgs>();
  auto* cmd = app.add_subcommand("pretrain", "Online self-supervised pre-training (VideoMAE, MoCo, distillation) over a clip stream");
  auto& o = a->options;
  auto flag = [&](const char* member, CLI::Option* opt) {
    a->flags[member] = opt;
    return opt->capture_default_str();
  };
  cmd->add_option("--method", a->method, "Objective")->check(CLI::IsMember({"videomae", "moco", "distill"}))->capture_default_str();
  cmd->add_option("--sampler", a->sampler, "Clip sampler")
      ->check(CLI::IsMember({"sequential", "random", "multistream", "replay"}))
      ->capture_default_str();
  cmd->add_option("--arch", a->arch, "Backbone: x3d_tiny|x3d_xs|x3d_s|x3d_m|x3d_l (moco, distill; default x3d_m), vit_tiny|vit_s|vit_b (videomae; default vit_s)")
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
  flag("batch", cmd->add_option("--batch", o.batch, "Clips per step")->check(CLI::PositiveNumber));
  flag("lr", cmd->add_option("--lr", o.lr, "Peak learning rate"));
  flag("warmup_steps", cmd->add_option("--warmup-steps", o.warmup_steps, "Linear warmup steps, then cosine decay"));
  flag("weight_decay", cmd->add_option("--weight-decay", o.weight_decay, "Weight decay"));
  flag("grad_clip", cmd->add_option("--grad-clip", o.grad_clip, "Max gradient norm (0 = off)"));
  flag("device", cmd->add_option("--device", o.device, "cpu | cuda | cuda:N"));
  flag("seed", cmd->add_option("--seed", o.seed, "Seed of sampler, objective and LibTorch's generators"));
  flag("checkpoint_every", cmd->add_option("--checkpoint-every", o.checkpoint_every, "Checkpoint every N steps (0 = at the end only)"));
  flag("out_dir", cmd->add_option("--out", o.out_dir, "Folder for checkpoint.pt and metrics.jsonl"));
  flag("resume", cmd->add_flag("--resume", o.resume, "Continue from OUT/checkpoint.pt when it exists"));
  cmd->add_flag("--overwrite", a->overwrite, "Replace an earlier run's checkpoint.pt and metrics.jsonl in OUT (refused otherwise)");
  flag("prefetch", cmd->add_option("--prefetch", o.prefetch, "Batches prepared ahead")->check(CLI::PositiveNumber));
  flag("threads", cmd->add_option("--threads", o.threads, "Cores to use (0 = all, shared among the processes of a torchrun job on this machine)"));
  flag("decode_workers", cmd->add_option("--decode-workers", o.decode_workers, "Decoding threads, one reader each (0 = one per core; a pipe or live stream uses 1)")
                             ->check(CLI::NonNegativeNumber));
  flag("distributed", cmd->add_option("--distributed", o.distributed, "Join the torchrun job of the environment (WORLD_SIZE > 1)"));
  flag("dist_timeout_s", cmd->add_option("--dist-timeout", o.dist_timeout_s, "Seconds a rank waits for the others (rendezvous, each collective)")
                              ->check(CLI::PositiveNumber));
  flag("dist_bucket_mib", cmd->add_option("--dist-bucket-mib", o.dist_bucket_mib, "Gradient all-reduce bucket size (MiB)")->check(CLI::PositiveNumber));
  flag("channels_last", cmd->add_flag("--channels-last", o.channels_last, "Weights in channels-last-3d (X3D: faster on CPU, much slower on CUDA)"));
  cmd->add_option("--decode-device", a->decode_device,
                  "Where videos are decoded: cpu, or cuda / cuda:N (NVDEC: clips start on the GPU; CPU decoding, said once, where it cannot run)")
      ->capture_default_str();
  auto* optimizer = cmd->add_option("--optimizer", a->optimizer, "adamw | sgd")->check(CLI::IsMember({"adamw", "sgd"}))->capture_default_str();
  cmd->callback([a, optimizer] {
    a->optimizer_given = optimizer->count() > 0;
    const auto line = longform::cli::run_pretrain(*a);
    if (line.is_null()) return;  // not rank 0
    std::printf("%s\n", line.dump().c_str());
    longform::cli::exit_status_from(line["skipped"]);
  });
}
