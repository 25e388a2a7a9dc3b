// SPDX-License-Identifier: MIT
// `longform reproduce --config FILE`: the paper's experiment — pre-train every method × sampler ×
// stride × variant of a grid (as `longform pretrain`; a variant is a named change to the pre-training
// options, such as a stream-aware policy), evaluate each (as `longform finetune`), next to a
// random-init encoder per method and seed; write results.csv, summary.csv (over seeds: top-1's
// mean and 95 % interval, and the gain over random init paired by seed) and figure.svg (top-1
// against stride, one line per method and sampler). The whole config is checked before any cell
// runs. Resumable: each cell records its settings (settings.json) and is reused only while they
// stay the same — a finished cell is skipped, a cell cut short resumes its pre-training from its
// checkpoint; a cell whose settings changed runs again from scratch.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// NOTE: LibTorch ships its own fmt whose headers may shadow the system one; header-only mode
// links whichever is found.
#define FMT_HEADER_ONLY
#include <c10/core/Device.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <longform/core/error.hpp>
#include <longform/core/json.hpp>
#include <longform/core/reflect.hpp>
#include <longform/data/synthetic_actions.hpp>
#include <longform/eval/confidence.hpp>
#include <longform/train/options.hpp>

#include "backbones.hpp"
#include "commands.hpp"
#include "finetune.hpp"
#include "json_file.hpp"
#include "pretrain.hpp"
#include "samplers.hpp"

namespace {

namespace fs = std::filesystem;
using longform::cli::FinetuneArgs;
using longform::cli::PretrainArgs;
using nlohmann::json;

// The values `longform pretrain` and `longform finetune` accept for --method, --sampler,
// --protocol and --dataset, checked here before any cell runs rather than when one reaches them.
const std::vector<std::string> known_methods = longform::cli::method_names();
const std::vector<std::string> known_samplers = longform::cli::names_of(longform::cli::samplers());
const std::vector<std::string> known_protocols{"finetune", "linear", "knn"};
const std::vector<std::string> known_datasets{"ucf101", "hmdb51", "folder", "csv", "synthetic"};

[[noreturn]] void refuse(const fs::path& file, const std::string& what) { throw longform::config_error(file.string() + ": " + what); }

// `value` (of `what`, found `where`) must be one of `accepted`.
void check_name(const fs::path& file, const std::string& what, const std::string& value, const std::vector<std::string>& accepted,
                const std::string& where = "") {
  if (std::find(accepted.begin(), accepted.end(), value) == accepted.end())
    refuse(file, "unknown " + what + " '" + value + "'" + where + " (accepted: " + CLI::detail::join(accepted, ", ") + ")");
}

// A named change to the grid's "pretrain" object, e.g. {"name": "orthogonal", "pretrain":
// {"orthogonal": true}}: every method × sampler × stride × seed runs once per variant.
struct Variant {
  std::string name;
  json pretrain = json::object();
};

// The config file.
struct Grid {
  fs::path out = "reproduce-out";
  std::vector<std::string> methods = known_methods, samplers{"sequential", "random"};
  std::vector<std::int64_t> strides{1, 2, 4};
  std::vector<std::uint64_t> seeds{0};
  std::vector<Variant> variants{Variant{}};  // default: the "pretrain" object as it is, unnamed
  json pretrain = json::object(), eval = json::object();
};

// The "pretrain" object's members beside those of PretrainArgs and PretrainerOptions.
struct GridPretrain {
  std::map<std::string, std::string> arch;  // by method; default x3d_m, for videomae vit_s
};

}  // namespace

LONGFORM_REFLECT(Variant, name, pretrain);
LONGFORM_REFLECT(Grid, out, methods, samplers, strides, seeds, variants, pretrain, eval);
LONGFORM_REFLECT(GridPretrain, arch);

namespace {

Grid read_grid(const fs::path& file) {
  Grid g;
  longform::cli::bind_json(longform::cli::read_json_file(file), file, "the config", g);
  if (g.methods.empty() || g.samplers.empty() || g.strides.empty() || g.seeds.empty() || g.variants.empty())
    refuse(file, "methods, samplers, strides, seeds and variants must not be empty");
  std::vector<std::string> names;
  for (const auto& v : g.variants) {
    if (std::find(names.begin(), names.end(), v.name) != names.end()) refuse(file, "variant name '" + v.name + "' is given twice");
    if (v.name.find_first_of("/\\ ") != std::string::npos) refuse(file, "variant name '" + v.name + "' has a slash or a space (it names folders)");
    names.push_back(v.name);
  }
  for (const auto& m : g.methods) check_name(file, "method", m, known_methods);
  for (const auto& s : g.samplers) check_name(file, "sampler", s, known_samplers);
  for (const auto s : g.strides)
    if (s <= 0) refuse(file, "strides must be positive (was " + std::to_string(s) + ")");
  return g;
}

// What a cell computes from: its reflected members, less those that only say how it runs.
json settings_of(json members, std::initializer_list<const char*> how_it_runs) {
  for (const char* key : how_it_runs) members.erase(key);
  return members;
}

void check_pretrain(const PretrainArgs& a, const fs::path& file) {
  const auto in = [&](const std::string& what) { refuse(file, "\"pretrain\": " + what); };
  try {
    longform::validate(a.options);
  } catch (const longform::config_error& e) {
    in(e.what());
  }
  if (int(a.synthetic) + int(!a.videos.empty()) + int(!a.ava.empty()) != 1) in("give exactly one of synthetic, videos, ava");
  for (const auto& [key, path] :
       std::initializer_list<std::pair<const char*, std::string>>{{"videos", a.videos}, {"ava", a.ava}, {"ava_root", a.ava_root}, {"init", a.init}})
    if (!path.empty() && !fs::exists(path)) in(std::string(key) + " '" + path + "' does not exist");
  if (a.method == "distill" && !a.teacher.empty() && !fs::is_regular_file(a.teacher)) in("teacher '" + a.teacher + "' is no file");
  if (a.method == "distill" && a.distill_target != "logits" && a.distill_target != "features")
    in("distill_target must be logits or features (was '" + a.distill_target + "')");
  const bool vit = a.method == "videomae";
  if (vit ? !longform::cli::vit_preset(a.arch, a.frames, a.options.size) : !longform::cli::x3d_preset(a.arch, a.frames, a.options.size))
    in("arch '" + a.arch + "' of " + a.method + " is not " +
       (vit ? "a ViT (vit_tiny, vit_s, vit_b)" : "an X3D (x3d_tiny, x3d_xs, x3d_s, x3d_m, x3d_l)"));
  if (a.frames <= 0 || a.queue_size <= 0 || !(a.segment_seconds > 0)) in("frames, queue_size and segment_seconds must be positive");
  if (!(a.mask_ratio > 0 && a.mask_ratio < 1)) in("mask_ratio must be in (0, 1)");
  if (!(a.flip_p >= 0 && a.flip_p <= 1)) in("flip_p must be in [0, 1]");
}

void check_eval(const FinetuneArgs& a, const fs::path& file) {
  const auto in = [&](const std::string& what) { refuse(file, "\"eval\": " + what); };
  check_name(file, "protocol", a.protocol, known_protocols, " in \"eval\"");
  check_name(file, "dataset", a.dataset, known_datasets, " in \"eval\"");
  if (a.dataset == "csv" && (a.train_list.empty() || a.test_list.empty())) in("dataset csv needs train_list and test_list");
  if (a.dataset != "synthetic" && a.dataset != "csv" && !fs::is_directory(a.root)) in("root '" + a.root + "' is no folder");
  if (a.frames <= 0 || a.stride <= 0 || a.size <= 0 || a.clips <= 0 || a.batch <= 0 || a.k <= 0 || a.split <= 0 || a.epochs < 0)
    in("frames, stride, size, clips, batch, k and split must be positive, epochs >= 0");
  if (a.crops != 1 && a.crops != 3) in("crops must be 1 or 3 (was " + std::to_string(a.crops) + ")");
  if (a.dataset == "synthetic") {
    try {
      (void)longform::SyntheticActions(a.synthetic);
    } catch (const longform::config_error& e) {
      in(e.what());
    }
  }
  try {
    (void)c10::Device(a.device);
  } catch (const std::exception&) {
    in("device '" + a.device + "' is no device (cpu, cuda, cuda:N)");
  }
}

// The pre-training of one cell: the config's "pretrain" object, changed by the variant's, then the
// cell's coordinates.
PretrainArgs pretrain_args(const Grid& g, const fs::path& file, const Variant& variant, const std::string& method, const std::string& sampler,
                           std::int64_t stride, std::uint64_t seed, const fs::path& dir) {
  PretrainArgs a;
  GridPretrain grid;
  const std::string where = variant.name.empty() ? "\"pretrain\"" : "variant '" + variant.name + "': \"pretrain\"";
  // Each cell sets these itself (from its coordinates and "out"), so the grid may not.
  for (const json* object : {&g.pretrain, &variant.pretrain})
    for (const char* own : {"seed", "out_dir", "resume", "method", "sampler", "stride"})
      if (object->contains(own))
        refuse(file, where + ": '" + own + "' is set per cell (from \"methods\", \"samplers\", \"strides\", \"seeds\", \"out\")");
  longform::cli::bind_json(g.pretrain, file, "\"pretrain\"", a, a.options, grid);
  longform::cli::bind_json(variant.pretrain, file, where, a, a.options, grid);
  for (const auto& [m, name] : grid.arch) check_name(file, "method", m, known_methods, " in \"pretrain\".\"arch\"");
  a.arch = grid.arch.contains(method) ? grid.arch[method] : method == "videomae" ? "vit_s" : "x3d_m";
  if (!a.synthetic && a.videos.empty() && a.ava.empty()) a.synthetic = true;
  a.method = method;
  a.sampler = sampler;
  a.stride = stride;
  a.options.seed = seed;
  a.options.out_dir = dir.string();
  a.options.resume = true;  // a cell cut short continues from its checkpoint
  check_pretrain(a, file);
  return a;
}

// The evaluation of one cell: the config's "eval" object over what the cell pre-trained.
FinetuneArgs finetune_args(const Grid& g, const fs::path& file, const PretrainArgs& p, std::uint64_t seed, const std::string& weights,
                           const fs::path& dir) {
  FinetuneArgs a;
  a.dataset = "synthetic";
  a.frames = p.frames;
  a.size = p.options.size;
  a.threads = static_cast<int>(p.options.threads);
  a.device = p.options.device;
  longform::cli::bind_json(g.eval, file, "\"eval\"", a);
  a.arch = p.arch;
  a.weights = weights;
  a.seed = seed;
  a.out = (dir / "result.json").string();
  check_eval(a, file);
  return a;
}

// One cell of the grid, fully resolved and checked before any cell runs.
struct Cell {
  std::string name, method, sampler, variant;  // sampler "random-init": the baseline, no pre-training
  std::int64_t stride = 0;
  std::uint64_t seed = 0;
  fs::path dir;
  std::optional<PretrainArgs> pretrain;
  FinetuneArgs eval;
  json settings;  // what the cell computes from; a rerun reuses the cell only if they are equal
};

std::vector<Cell> plan(const Grid& g, const fs::path& file) {
  std::vector<Cell> cells;
  const auto add = [&](Cell c) {
    c.settings = {{"method", c.method},
                  {"sampler", c.sampler},
                  {"variant", c.variant},
                  {"stride", c.stride},
                  {"seed", c.seed},
                  {"arch", c.eval.arch},
                  {"eval", settings_of(c.eval, {"threads"})}};
    if (c.pretrain) {
      json pretrain = *c.pretrain;
      pretrain.update(json(c.pretrain->options));
      c.settings["pretrain"] =
          settings_of(pretrain, {"threads", "checkpoint_every", "out_dir", "resume", "progress", "prefetch", "decode_workers", "dist_timeout_s"});
    }
    c.settings = json::parse(c.settings.dump());  // the types JSON reads back (unsigned, not signed), to compare with a recorded copy
    cells.push_back(std::move(c));
  };
  for (const auto seed : g.seeds) {
    for (const auto& method : g.methods) {
      // The baseline: the same encoder, randomly initialised, through the same evaluation.
      const auto base_dir = g.out / fmt::format("{}-random-init-seed{}", method, seed);
      const auto p0 = pretrain_args(g, file, Variant{}, method, "sequential", 1, seed, base_dir);
      add({fmt::format("{} random init, seed {}", method, seed), method, "random-init", "", 0, seed, base_dir, std::nullopt,
           finetune_args(g, file, p0, seed, "", base_dir)});
      for (const auto& sampler : g.samplers) {
        for (const auto stride : g.strides) {
          for (const auto& variant : g.variants) {
            const std::string named = variant.name.empty() ? "" : "-" + variant.name;
            const auto dir = g.out / fmt::format("{}-{}-s{}{}-seed{}", method, sampler, stride, named, seed);
            const auto p = pretrain_args(g, file, variant, method, sampler, stride, seed, dir);
            add({fmt::format("{} / {} / stride {}{} / seed {}", method, sampler, stride, variant.name.empty() ? "" : " / " + variant.name, seed),
                 method, sampler, variant.name, stride, seed, dir, p, finetune_args(g, file, p, seed, (dir / "checkpoint.pt").string(), dir)});
          }
        }
      }
    }
  }
  return cells;
}

// "pretrain.steps: 2 -> 4, ..." : where `now` differs from `before`.
std::string changes(const json& before, const json& now) {
  std::string out;
  for (const auto& op : json::diff(before, now)) {
    const std::string path = op["path"];
    std::string key = path.empty() ? "settings" : path.substr(1);
    std::replace(key.begin(), key.end(), '/', '.');
    const json::json_pointer at(path);
    const std::string was = before.contains(at) ? before[at].dump() : "none";
    const std::string is = op.contains("value") ? op["value"].dump() : "none";
    out += (out.empty() ? "" : ", ") + key + ": " + was + " -> " + is;
  }
  return out;
}

// Readies the cell's folder: kept when its settings.json equals the cell's settings (its result
// stands, its checkpoint resumes), else emptied, so nothing computed under other settings is
// reused. Returns whether it was kept.
bool claim(const Cell& c) {
  const auto file = c.dir / "settings.json";
  if (fs::exists(file)) {
    std::string changed = "unreadable " + file.string();
    try {
      const json recorded = json::parse(std::ifstream(file));
      if (recorded == c.settings) return true;
      changed = changes(recorded, c.settings);
    } catch (const json::exception&) {
    }
    std::fprintf(stderr, "longform reproduce: %s: settings changed (%s), run again\n", c.name.c_str(), changed.c_str());
  } else if (fs::exists(c.dir) && !fs::is_empty(c.dir)) {
    std::fprintf(stderr, "longform reproduce: %s: no settings recorded, run again\n", c.name.c_str());
  }
  fs::remove_all(c.dir);
  fs::create_directories(c.dir);
  const auto tmp = fs::path(file).concat(".tmp");
  std::ofstream(tmp) << c.settings.dump(2) << "\n";
  fs::rename(tmp, file);  // complete or absent: a cell is never claimed by half a record
  return false;
}

// Runs the cell unless its folder holds its result under the same settings; returns the result.
json run_cell(const Cell& c) {
  const auto result = c.dir / "result.json", pretrained = c.dir / "pretrain.json";
  if (claim(c) && fs::exists(result)) {
    std::fprintf(stderr, "longform reproduce: %s: done before, skipped\n", c.name.c_str());
    return json::parse(std::ifstream(result));
  }
  std::fprintf(stderr, "longform reproduce: %s\n", c.name.c_str());
  if (c.pretrain && !fs::exists(pretrained)) {  // a finished pre-training stands when only its evaluation is missing
    const json pre = longform::cli::run_pretrain(*c.pretrain);
    std::ofstream(pretrained) << pre.dump() << "\n";
    std::fprintf(stderr, "longform reproduce: %s: pre-trained %lld steps, loss %.4f\n", c.name.c_str(),
                 static_cast<long long>(pre.value("steps", std::int64_t{0})), pre.value("loss", 0.0));
  }
  return longform::cli::run_finetune(c.eval);
}

struct Row {
  std::string method, sampler, variant;
  std::int64_t stride;
  std::uint64_t seed;
  double top1, top5;
  std::optional<double> loss, pretrain_s;  // none: no pre-training (random init), shown as "–"
  double eval_s;
};

// Top-1 (mean over seeds) against stride: one polyline per method and sampler, dashed lines for random init.
void write_svg(const fs::path& file, const std::vector<Row>& rows, const std::vector<std::int64_t>& strides) {
  std::map<std::string, std::map<std::int64_t, std::vector<double>>> lines;
  std::map<std::string, std::vector<double>> baselines;
  double lo = 1, hi = 0;
  for (const auto& r : rows) {
    if (r.sampler == "random-init")
      baselines[r.method].push_back(r.top1);
    else
      lines[r.method + " / " + r.sampler + (r.variant.empty() ? "" : " / " + r.variant)][r.stride].push_back(r.top1);
    lo = std::min(lo, r.top1);
    hi = std::max(hi, r.top1);
  }
  lo = std::max(0.0, lo - 0.05);
  hi = std::min(1.0, hi + 0.05);
  if (hi <= lo) hi = lo + 0.1;
  const double W = 640, H = 400, left = 60, right = 200, top = 30, bottom = 50;
  const auto x_of = [&](std::size_t i) {
    return left +
           (strides.size() > 1 ? (W - left - right) * static_cast<double>(i) / static_cast<double>(strides.size() - 1) : (W - left - right) / 2);
  };
  const auto y_of = [&](double v) { return top + (H - top - bottom) * (1 - (v - lo) / (hi - lo)); };
  const auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  std::string svg =
      fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)svg", W, H);
  svg += fmt::format(R"svg(<rect width="{}" height="{}" fill="white"/>)svg", W, H);
  svg += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="black"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="black"/>)svg",
                     left, top, H - bottom, W - right);
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4;
    svg += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="end">{:.0f}%</text><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>)svg", left - 6,
                       y_of(v) + 4, 100 * v, left, y_of(v), W - right, y_of(v));
  }
  for (std::size_t i = 0; i < strides.size(); ++i)
    svg += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="middle">{}</text>)svg", x_of(i), H - bottom + 18, strides[i]);
  svg += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="middle">stride τ of the pre-training clips</text>)svg", (left + W - right) / 2, H - 10);
  svg += fmt::format(R"svg(<text x="14" y="{0}" transform="rotate(-90 14 {0})" text-anchor="middle">linear-probe top-1</text>)svg",
                     (top + H - bottom) / 2);
  int c = 0;
  double legend_y = top + 10;
  for (const auto& [name, by_stride] : lines) {
    const char* color = colors[c++ % 8];
    std::string points;
    for (std::size_t i = 0; i < strides.size(); ++i) {
      const auto it = by_stride.find(strides[i]);
      if (it == by_stride.end()) continue;
      points += fmt::format("{:.1f},{:.1f} ", x_of(i), y_of(mean(it->second)));
      svg += fmt::format(R"svg(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>)svg", x_of(i), y_of(mean(it->second)), color);
    }
    const bool dashed = name.find("random") != std::string::npos;
    svg += fmt::format(R"svg(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>)svg", points, color,
                       dashed ? R"svg( stroke-dasharray="6 3")svg" : "");
    svg +=
        fmt::format(R"svg(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/><text x="{}" y="{}">{}</text>)svg", W - right + 10,
                    legend_y, W - right + 30, legend_y, color, dashed ? R"svg( stroke-dasharray="6 3")svg" : "", W - right + 35, legend_y + 4, name);
    legend_y += 18;
  }
  for (const auto& [method, v] : baselines) {
    svg += fmt::format(
        R"svg(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#999" stroke-dasharray="2 3"/><text x="{}" y="{:.1f}" fill="#666">{} random init</text>)svg",
        left, y_of(mean(v)), W - right, y_of(mean(v)), W - right + 10, legend_y + 4, method);
    legend_y += 18;
  }
  svg += "</svg>\n";
  std::ofstream(file) << svg;
}

// Over seeds, per method, sampler and stride: top-1 as mean ± half-width of its 95 % interval, and
// the gain over the random-init encoder of the same method, paired by seed (the same seed's probe
// and clips on the same test videos: the seed's luck cancels). Written to `file`, shown on stderr.
void write_summary(const fs::path& file, const std::vector<Row>& rows, const std::string& protocol) {
  std::vector<std::string> order;  // rows' first appearance
  std::map<std::string, std::vector<const Row*>> cells;
  std::map<std::string, double> base;  // random init, by method and seed
  for (const auto& r : rows) {
    const auto key = r.sampler == "random-init"
                         ? fmt::format("{} random init", r.method)
                         : fmt::format("{} / {} / stride {}{}", r.method, r.sampler, r.stride, r.variant.empty() ? "" : " / " + r.variant);
    if (!cells.contains(key)) order.push_back(key);
    cells[key].push_back(&r);
    if (r.sampler == "random-init") base[fmt::format("{}/{}", r.method, r.seed)] = r.top1;
  }
  const auto points = [](const longform::Interval& i) {
    return i.n < 2 ? fmt::format("{:.1f}", 100 * i.mean) : fmt::format("{:.1f} ± {:.1f}", 100 * i.mean, 100 * i.half_width);
  };
  std::ofstream csv(file);
  csv << "method,sampler,stride,variant,seeds,top1_mean,top1_ci95,gain_mean,gain_ci95\n";
  std::string seeds;
  for (const Row* r : cells[order.front()]) seeds += (seeds.empty() ? "" : ", ") + std::to_string(r->seed);
  std::fprintf(stderr, "\n%s top-1 over seeds %s (%%, mean ± 95 %% interval), gain over random init paired by seed (points):\n", protocol.c_str(),
               seeds.c_str());
  for (const auto& key : order) {
    std::vector<double> top1, baseline;
    for (const Row* r : cells[key]) {
      top1.push_back(r->top1);
      baseline.push_back(base.at(fmt::format("{}/{}", r->method, r->seed)));
    }
    const Row& first = *cells[key].front();
    const auto mean = longform::mean_interval(top1);
    std::string line = fmt::format("  {:<36}{:>14}", key, points(mean));
    std::string gain_csv = ",";
    if (first.sampler != "random-init") {
      const auto gain = longform::paired_difference(top1, baseline);
      line += fmt::format("   gain {:+.1f}{}  {}", 100 * gain.mean, gain.n < 2 ? "" : fmt::format(" ± {:.1f}", 100 * gain.half_width),
                          gain.n < 2        ? "(one seed: no interval)"
                          : gain.sign() > 0 ? "(above random init at 95 %)"
                          : gain.sign() < 0 ? "(below random init at 95 %)"
                                            : "(no difference at 95 %)");
      gain_csv = fmt::format("{:.4f},{:.4f}", gain.mean, gain.half_width);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
    csv << fmt::format("{},{},{},{},{},{:.4f},{:.4f},{}\n", first.method, first.sampler, first.stride, first.variant, top1.size(), mean.mean,
                       mean.half_width, gain_csv);
  }
}

void run_reproduce(const fs::path& config) {
  const Grid g = read_grid(config);
  const std::vector<Cell> cells = plan(g, config);  // every cell's options checked before any work
  fs::create_directories(g.out);
  std::vector<Row> rows;
  std::map<std::string, double> base_top1;  // by method and seed
  for (const auto& c : cells) {
    const json r = run_cell(c);
    Row row{c.method, c.sampler, c.variant, c.stride, c.seed, r["top1"], r["top5"], std::nullopt, std::nullopt, r["seconds"]};
    const auto key = fmt::format("{}/{}", c.method, c.seed);
    if (!c.pretrain) {
      base_top1[key] = row.top1;
    } else {
      if (fs::exists(c.dir / "pretrain.json")) {
        const json pre = json::parse(std::ifstream(c.dir / "pretrain.json"));
        row.loss = pre.value("loss", 0.0);
        row.pretrain_s = pre.value("seconds", 0.0);
      }
      std::fprintf(stderr, "longform reproduce: %s: top-1 %.1f %% (random init %.1f %%)\n", c.name.c_str(), 100 * row.top1, 100 * base_top1[key]);
    }
    rows.push_back(std::move(row));
  }
  const auto cell_text = [](const std::optional<double>& v, int digits) { return v ? fmt::format("{:.{}f}", *v, digits) : std::string("–"); };
  std::ofstream csv(g.out / "results.csv");
  csv << "method,sampler,stride,variant,seed,top1,top5,pretrain_loss,pretrain_s,eval_s\n";
  for (const auto& r : rows)
    csv << fmt::format("{},{},{},{},{},{:.4f},{:.4f},{},{},{:.1f}\n", r.method, r.sampler, r.stride, r.variant, r.seed, r.top1, r.top5,
                       cell_text(r.loss, 4), cell_text(r.pretrain_s, 1), r.eval_s);
  write_svg(g.out / "figure.svg", rows, g.strides);
  write_summary(g.out / "summary.csv", rows, cells.front().eval.protocol);
  std::printf("%s\n", json{{"results", (g.out / "results.csv").string()},
                           {"summary", (g.out / "summary.csv").string()},
                           {"figure", (g.out / "figure.svg").string()},
                           {"cells", rows.size()}}
                          .dump()
                          .c_str());
}

}  // namespace

void add_reproduce_command(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "reproduce",
      "The paper's grid: pre-train method x sampler x stride, evaluate each; results.csv, summary.csv (paired by seed), figure.svg (resumable)");
  cmd->add_option("--config", *config, "JSON: out, methods, samplers, strides, seeds, variants [{name, pretrain {...}}], pretrain {...}, eval {...}")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->callback([config] { run_reproduce(*config); });
}
