// SPDX-License-Identifier: MIT
// `longform reproduce --config FILE`: the paper's experiment — pre-train every method × sampler ×
// stride of a grid (as `longform pretrain`), evaluate each (as `longform finetune`), next to a
// random-init encoder per method; write results.csv and figure.svg (top-1 against stride, one line
// per method and sampler). Resumable: a cell with its result.json is skipped, a cell cut short
// resumes its pre-training from its checkpoint.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

// NOTE: LibTorch ships its own fmt whose headers may shadow the system one; header-only mode
// links whichever is found.
#define FMT_HEADER_ONLY
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <longform/core/error.hpp>

#include "commands.hpp"
#include "finetune.hpp"
#include "pretrain.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Grid {
  fs::path out = "reproduce-out";
  std::vector<std::string> methods{"videomae", "moco", "distill"}, samplers{"sequential", "random"};
  std::vector<std::int64_t> strides{1, 2, 4};
  std::vector<std::uint64_t> seeds{0};
  json pretrain = json::object(), eval = json::object();
};

template <class T>
void take(const json& j, const char* key, T& into, const fs::path& file) {
  if (!j.contains(key)) return;
  try {
    into = j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw longform::config_error(file.string() + ": '" + key + "' has the wrong type (" + e.what() + ")");
  }
}

// Reads the members of one JSON object of the config and, in `finish`, refuses the keys nobody
// asked for, so a misspelt option is an error rather than a silently ignored default.
class ObjectReader {
 public:
  ObjectReader(const json& j, const fs::path& file, std::string where) : j_(j), file_(file), where_(std::move(where)) {}
  template <class T>
  void operator()(const char* key, T& into) {
    asked_.emplace_back(key);
    take(j_, key, into, file_);
  }
  void finish() const {
    for (const auto& item : j_.items())
      if (std::find(asked_.begin(), asked_.end(), item.key()) == asked_.end())
        throw longform::config_error(file_.string() + ": unknown key '" + item.key() + "' in \"" + where_ + "\"");
  }

 private:
  const json& j_;
  const fs::path& file_;
  std::string where_;
  std::vector<std::string> asked_;
};

Grid read_grid(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw longform::config_error(file.string() + ": cannot open the config file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw longform::config_error(file.string() + ": not JSON (" + e.what() + ")");
  }
  Grid g;
  for (const auto& item : j.items()) {
    static const std::vector<std::string> known{"out", "methods", "samplers", "strides", "seeds", "pretrain", "eval"};
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) throw longform::config_error(file.string() + ": unknown key '" + item.key() + "'");
  }
  std::string out = g.out.string();
  take(j, "out", out, file);
  g.out = out;
  take(j, "methods", g.methods, file);
  take(j, "samplers", g.samplers, file);
  take(j, "strides", g.strides, file);
  take(j, "seeds", g.seeds, file);
  take(j, "pretrain", g.pretrain, file);
  take(j, "eval", g.eval, file);
  return g;
}

// The pre-training of one cell: the config's "pretrain" object, then the cell's coordinates.
longform::cli::PretrainArgs pretrain_args(const Grid& g, const fs::path& file, const std::string& method, const std::string& sampler,
                                          std::int64_t stride, std::uint64_t seed, const fs::path& dir) {
  longform::cli::PretrainArgs a;
  const json& p = g.pretrain;
  ObjectReader read(p, file, "pretrain");
  read("synthetic", a.synthetic);
  read("videos", a.videos);
  read("ava", a.ava);
  read("ava_root", a.ava_root);
  read("teacher", a.teacher);
  read("init", a.init);
  read("frames", a.frames);
  read("queue_size", a.queue_size);
  read("mask_ratio", a.mask_ratio);
  read("flip_p", a.flip_p);
  read("distill_target", a.distill_target);
  read("segment_seconds", a.segment_seconds);
  read("steps", a.options.steps);
  read("batch", a.options.batch);
  read("size", a.options.size);
  read("lr", a.options.lr);
  read("warmup_steps", a.options.warmup_steps);
  read("weight_decay", a.options.weight_decay);
  read("device", a.options.device);
  read("threads", a.options.threads);
  read("checkpoint_every", a.options.checkpoint_every);
  if (p.contains("arch")) {
    std::map<std::string, std::string> arch;
    read("arch", arch);
    if (arch.contains(method)) a.arch = arch[method];
  }
  read.finish();
  if (!a.synthetic && a.videos.empty() && a.ava.empty()) a.synthetic = true;
  a.method = method;
  a.sampler = sampler;
  a.stride = stride;
  a.options.seed = seed;
  a.options.out_dir = dir.string();
  a.options.resume = true;  // a cell cut short continues from its checkpoint
  a.options.progress = true;
  return a;
}

longform::cli::FinetuneArgs finetune_args(const Grid& g, const fs::path& file, const longform::cli::PretrainArgs& p, std::uint64_t seed,
                                          const std::string& weights, const fs::path& dir) {
  longform::cli::FinetuneArgs a;
  const json& e = g.eval;
  ObjectReader read(e, file, "eval");
  a.dataset = "synthetic";
  a.frames = p.frames;
  a.size = p.options.size;
  a.threads = static_cast<int>(p.options.threads);
  a.device = p.options.device;
  read("dataset", a.dataset);
  read("root", a.root);
  read("lists", a.lists);
  read("split", a.split);
  read("protocol", a.protocol);
  read("frames", a.frames);
  read("stride", a.stride);
  read("size", a.size);
  read("clips", a.clips);
  read("crops", a.crops);
  read("epochs", a.epochs);
  read("batch", a.batch);
  read("lr", a.lr);
  read("weight_decay", a.weight_decay);
  read("k", a.k);
  read("motion_share", a.motion_share);
  read("threads", a.threads);
  read("device", a.device);
  read.finish();
  a.arch = p.arch.empty() ? (p.method == "videomae" ? "vit_s" : "x3d_m") : p.arch;
  a.weights = weights;
  a.seed = seed;
  a.out = (dir / "result.json").string();
  return a;
}

// Runs `evaluate` unless DIR/result.json exists; returns the result either way.
template <class F>
json cell(const fs::path& dir, const std::string& name, F&& evaluate) {
  const auto result = dir / "result.json";
  if (fs::exists(result)) {
    std::fprintf(stderr, "longform reproduce: %s: done before, skipped\n", name.c_str());
    return json::parse(std::ifstream(result));
  }
  std::fprintf(stderr, "longform reproduce: %s\n", name.c_str());
  fs::create_directories(dir);
  return evaluate();
}

struct Row {
  std::string method, sampler;
  std::int64_t stride;
  std::uint64_t seed;
  double top1, top5, loss, pretrain_s, eval_s;
};

// Top-1 (mean over seeds) against stride: one polyline per method and sampler, dashed lines for random init.
void write_svg(const fs::path& file, const std::vector<Row>& rows, const std::vector<std::int64_t>& strides) {
  std::map<std::string, std::map<std::int64_t, std::vector<double>>> lines;
  std::map<std::string, std::vector<double>> baselines;
  double lo = 1, hi = 0;
  for (const auto& r : rows) {
    if (r.sampler == "random-init") baselines[r.method].push_back(r.top1);
    else lines[r.method + " / " + r.sampler][r.stride].push_back(r.top1);
    lo = std::min(lo, r.top1);
    hi = std::max(hi, r.top1);
  }
  lo = std::max(0.0, lo - 0.05);
  hi = std::min(1.0, hi + 0.05);
  if (hi <= lo) hi = lo + 0.1;
  const double W = 640, H = 400, left = 60, right = 200, top = 30, bottom = 50;
  const auto x_of = [&](std::size_t i) { return left + (strides.size() > 1 ? (W - left - right) * static_cast<double>(i) / static_cast<double>(strides.size() - 1) : (W - left - right) / 2); };
  const auto y_of = [&](double v) { return top + (H - top - bottom) * (1 - (v - lo) / (hi - lo)); };
  const auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  std::string svg = fmt::format(R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)svg", W, H);
  svg += fmt::format(R"svg(<rect width="{}" height="{}" fill="white"/>)svg", W, H);
  svg += fmt::format(R"svg(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="black"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="black"/>)svg", left, top, H - bottom, W - right);
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4;
    svg += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="end">{:.0f}%</text><line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>)svg", left - 6, y_of(v) + 4, 100 * v, left, y_of(v), W - right, y_of(v));
  }
  for (std::size_t i = 0; i < strides.size(); ++i) svg += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="middle">{}</text>)svg", x_of(i), H - bottom + 18, strides[i]);
  svg += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="middle">stride τ of the pre-training clips</text>)svg", (left + W - right) / 2, H - 10);
  svg += fmt::format(R"svg(<text x="14" y="{0}" transform="rotate(-90 14 {0})" text-anchor="middle">linear-probe top-1</text>)svg", (top + H - bottom) / 2);
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
    svg += fmt::format(R"svg(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>)svg", points, color, dashed ? R"svg( stroke-dasharray="6 3")svg" : "");
    svg += fmt::format(R"svg(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/><text x="{}" y="{}">{}</text>)svg", W - right + 10, legend_y,
                       W - right + 30, legend_y, color, dashed ? R"svg( stroke-dasharray="6 3")svg" : "", W - right + 35, legend_y + 4, name);
    legend_y += 18;
  }
  for (const auto& [method, v] : baselines) {
    svg += fmt::format(R"svg(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#999" stroke-dasharray="2 3"/><text x="{}" y="{:.1f}" fill="#666">{} random init</text>)svg", left,
                       y_of(mean(v)), W - right, y_of(mean(v)), W - right + 10, legend_y + 4, method);
    legend_y += 18;
  }
  svg += "</svg>\n";
  std::ofstream(file) << svg;
}

void run_reproduce(const fs::path& config) {
  const Grid g = read_grid(config);
  fs::create_directories(g.out);
  std::vector<Row> rows;
  for (const auto seed : g.seeds) {
    for (const auto& method : g.methods) {
      // The baseline: the same encoder, randomly initialised, through the same evaluation.
      const auto base_dir = g.out / fmt::format("{}-random-init-seed{}", method, seed);
      const auto p0 = pretrain_args(g, config, method, "sequential", 1, seed, base_dir);
      const json base = cell(base_dir, fmt::format("{} random init, seed {}", method, seed), [&] {
        return longform::cli::run_finetune(finetune_args(g, config, p0, seed, "", base_dir));
      });
      rows.push_back({method, "random-init", 0, seed, base["top1"], base["top5"], 0, 0, base["seconds"]});
      for (const auto& sampler : g.samplers) {
        for (const auto stride : g.strides) {
          const auto dir = g.out / fmt::format("{}-{}-s{}-seed{}", method, sampler, stride, seed);
          const auto name = fmt::format("{} / {} / stride {} / seed {}", method, sampler, stride, seed);
          double loss = 0, pretrain_s = 0;
          const json r = cell(dir, name, [&] {
            const auto p = pretrain_args(g, config, method, sampler, stride, seed, dir);
            const json pre = longform::cli::run_pretrain(p);
            std::ofstream(dir / "pretrain.json") << pre.dump() << "\n";
            return longform::cli::run_finetune(finetune_args(g, config, p, seed, (dir / "checkpoint.pt").string(), dir));
          });
          if (fs::exists(dir / "pretrain.json")) {
            const json pre = json::parse(std::ifstream(dir / "pretrain.json"));
            loss = pre.value("loss", 0.0);
            pretrain_s = pre.value("seconds", 0.0);
          }
          rows.push_back({method, sampler, stride, seed, r["top1"], r["top5"], loss, pretrain_s, r["seconds"]});
          std::fprintf(stderr, "longform reproduce: %s: top-1 %.1f %% (random init %.1f %%)\n", name.c_str(), 100 * r["top1"].get<double>(),
                       100 * base["top1"].get<double>());
        }
      }
    }
  }
  std::ofstream csv(g.out / "results.csv");
  csv << "method,sampler,stride,seed,top1,top5,pretrain_loss,pretrain_s,eval_s\n";
  for (const auto& r : rows) csv << fmt::format("{},{},{},{},{:.4f},{:.4f},{:.4f},{:.1f},{:.1f}\n", r.method, r.sampler, r.stride, r.seed, r.top1, r.top5, r.loss, r.pretrain_s, r.eval_s);
  write_svg(g.out / "figure.svg", rows, g.strides);
  std::printf("%s\n", json{{"results", (g.out / "results.csv").string()}, {"figure", (g.out / "figure.svg").string()}, {"cells", rows.size()}}.dump().c_str());
}

}  // namespace

void add_reproduce_command(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("reproduce", "The paper's grid: pre-train method x sampler x stride, evaluate each, results.csv + figure.svg (resumable)");
  cmd->add_option("--config", *config, "JSON: out, methods, samplers, strides, seeds, pretrain {...}, eval {...}")->required()->check(CLI::ExistingFile);
  cmd->callback([config] { run_reproduce(*config); });
}
