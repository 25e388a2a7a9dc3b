// SPDX-License-Identifier: MIT
/// @file
/// Training checkpoints: one `torch.save`-format file holding everything a `Pretrainer` needs to
/// continue a run exactly. Python reads it as its own: `torch.load(path, weights_only=True)`
/// returns a plain dict (format 2, `checkpoint_format`):
///
/// | key         | value                                                                           |
/// |-------------|---------------------------------------------------------------------------------|
/// | `format`    | `"longform.training_checkpoint/2"`                                              |
/// | `step`      | optimizer steps done (`int`; the LR schedule is a function of it)               |
/// | `options`   | the run's `PretrainerOptions` as JSON (`str`, provenance)                       |
/// | `sampler`   | `{"kind": str, "values": [int, ...]}`, the resume point after the last clip     |
/// | `rng`       | `{"cpu": uint8 tensor, "device": ..., "objective": ...}` (the generators there are) |
/// | `ranks`     | a data-parallel run: one `{"sampler": ..., "rng": {"cpu", "objective"}}` per rank; else `[]` |
/// | `model`     | the objective's root module as an `OrderedDict` state dict (Python's names and order: MoCo's
/// `encoder_q.blocks.0.conv.conv_t.weight`, queues, step buffers) | | `optimizer` | Python's `optimizer.state_dict()` layout: `{"type": "AdamW" \|
/// "Adam" \| "SGD" \| "RMSprop", "state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`; Adam(W) state `step` (int), `exp_avg`,
/// `exp_avg_sq`, `max_exp_avg_sq` (amsgrad); SGD `momentum_buffer`; RMSprop `step` (int), `square_avg`, `momentum_buffer`, `grad_avg` (centered);
/// an orthogonal optimizer (train/orthogonal.hpp) adds `"orthogonal": {"beta": float, "videos": [int, ...], "averages": {index: tensor}}` |
///
/// Every tensor is stored exactly (its bits), so a resumed run continues bit for bit.
///
/// Writes are atomic: the archive goes to `NAME.tmp.PID` in the same folder, is `fsync`ed, then
/// renamed over `NAME` and the folder is `fsync`ed. A reader — or a run resumed after a crash at
/// any instant — sees the previous complete checkpoint or the new complete one, never a torn file;
/// a failed write (a full disk, a file-size limit) removes its temporary and leaves `NAME` untouched.
/// The temporaries of writers that were killed are removed by the next write.
///
///     longform::save_training_checkpoint("run/checkpoint.pt", objective.module(), optimizer, state);
///     auto state = longform::load_training_checkpoint("run/checkpoint.pt", module, optimizer, device);
///
/// Reading is safe for untrusted files: the restricted unpickler of backbone/detail/pickle.hpp
/// runs no code, every value's type and every tensor's shape is checked before use, and any
/// defect is a `checkpoint_error` naming the file (tests/fuzz/checkpoint_fuzzer.cpp).
///
/// Format 1 (a TorchScript archive, longform before this format) is recognised and refused with
/// a `checkpoint_error` that says so: reading it needs LibTorch's TorchScript loader, which is not
/// hardened against hostile files. Resume such a run with the longform that wrote it, or take its
/// weights in Python with `torch.jit.load(path).model.state_dict()`.
///
/// The encoder alone, for Python, with PyTorchVideo or Hugging Face VideoMAE names:
/// `longform export --weights run/checkpoint.pt --out encoder.pt` (`read_training_submodule`).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/grad_mode.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <longform/backbone/detail/pickle.hpp>
#include <longform/backbone/weights.hpp>
#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>
#include <longform/train/orthogonal.hpp>

namespace longform {

/// A checkpoint could not be written or read; `path()` names the file.
class checkpoint_error : public config_error {
 public:
  checkpoint_error(const std::filesystem::path& path, const std::string& detail) : config_error(path.string() + ": " + detail), path_(path) {}
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// What one rank of a data-parallel run needs back to continue its own stream where it was.
struct RankState {
  SamplerState sampler;      ///< the rank's resume point after the last clip it trained on
  at::Tensor cpu_rng;        ///< its default CPU generator
  at::Tensor objective_rng;  ///< its objective's own generator, when the objective exposes one
};

/// What a training checkpoint holds besides the module and the optimizer.
struct TrainingState {
  std::int64_t step = 0;         ///< optimizer steps done
  SamplerState sampler;          ///< resume point after the last clip trained on
  at::Tensor cpu_rng;            ///< LibTorch's default CPU generator
  at::Tensor device_rng;         ///< the training device's default generator (CUDA); undefined on CPU
  at::Tensor objective_rng;      ///< the objective's own generator, when it exposes one
  std::string options;           ///< the run's `PretrainerOptions` as JSON (provenance)
  std::vector<RankState> ranks;  ///< a data-parallel run: every rank's state, index = rank (rank 0's is also above); else empty
};

/// The format tag stored in every checkpoint.
inline constexpr const char* checkpoint_format = "longform.training_checkpoint/2";

namespace detail {

// Writes all `n` bytes; returns 0, or the errno of the failure (ENOSPC, EFBIG, EIO, ...).
inline int write_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

// Removes `NAME.tmp.PID` files next to `path` whose writer process is gone (killed mid-write):
// each holds a partial checkpoint, and a run that is killed often would fill the disk with them.
inline void remove_stale_temporaries(const std::filesystem::path& dir, const std::filesystem::path& path) {
  const std::string prefix = path.filename().string() + ".tmp.";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) std::filesystem::remove(entry.path(), ec);
  }
}

// c10::Error texts carry a C++ backtrace after the first line.
inline std::string first_line(const std::exception& e) {
  std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

}  // namespace detail

/// A byte sink: writes `n` bytes, returns `n` (the shape `OutputArchive::save_to` takes).
using ByteSink = std::function<std::size_t(const void*, std::size_t)>;

/// Writes `path` atomically: `body(sink)` streams the content into a temporary next to `path`,
/// which is `fsync`ed and renamed over `path`. On any error (also one thrown by `body`) the
/// temporary is removed, `path` keeps its previous content, and the error propagates. The sink
/// itself never fails: after a failed write (a full disk) it drops the rest, and the failure is
/// thrown once `body` returns.
/// @throws checkpoint_error naming the file when the file system refuses.
inline void write_atomically(const std::filesystem::path& path, const std::function<void(const ByteSink&)>& body) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path tmp = dir / (path.filename().string() + ".tmp." + std::to_string(::getpid()));
  detail::remove_stale_temporaries(dir, path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw checkpoint_error(tmp, std::string("cannot create: ") + std::strerror(errno));
  bool open = true;
  try {
    // NOTE: LibTorch's archive writer must never see a failed or short write: its destructor then
    // writes the zip directory, throws, and the process aborts (std::terminate) on a full disk.
    int failed = 0;
    body([&](const void* data, std::size_t n) {
      if (failed == 0) failed = detail::write_all(fd, data, n);
      return n;
    });
    if (failed != 0) throw checkpoint_error(tmp, std::string("write failed: ") + std::strerror(failed));
    // NOTE: without the fsync a crash after the rename can leave an empty file under the final
    // name on ext4/xfs (the rename reaches the journal before the data does).
    if (::fsync(fd) != 0) throw checkpoint_error(tmp, std::string("fsync failed: ") + std::strerror(errno));
    open = false;
    if (::close(fd) != 0) throw checkpoint_error(tmp, std::string("close failed: ") + std::strerror(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw checkpoint_error(path, std::string("rename failed: ") + std::strerror(errno));
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable; failure here leaves a complete file either way, so it is not an error.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

/// The state of a generator (a CPU `uint8` tensor), taken under its lock.
[[nodiscard]] inline at::Tensor generator_state(at::Generator gen) {  // a handle: the copy shares the state
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

/// Restores a state taken by `generator_state` (moved to the CPU first if the archive mapped it elsewhere).
inline void set_generator_state(at::Generator& gen, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state.device().is_cpu() ? state : state.cpu());
}

namespace detail::ckpt {

using pickle::Value;
using pickle::ValuePtr;

// --- building the checkpoint's Python values ----------------------------------------------------
inline ValuePtr integer(std::int64_t i) {
  auto v = pickle::make(Value::Kind::integer);
  v->integer = i;
  return v;
}
inline ValuePtr real(double d) {
  auto v = pickle::make(Value::Kind::real);
  v->real = d;
  return v;
}
inline ValuePtr boolean(bool b) {
  auto v = pickle::make(Value::Kind::boolean);
  v->integer = b ? 1 : 0;
  return v;
}
inline ValuePtr tensor(const at::Tensor& t) {
  auto v = pickle::make(Value::Kind::tensor);
  v->tensor = t;
  return v;
}
inline ValuePtr sequence(Value::Kind kind, std::vector<ValuePtr> items = {}) {
  auto v = pickle::make(kind);
  v->items = std::move(items);
  return v;
}
inline ValuePtr dict() { return pickle::make(Value::Kind::dict); }
inline void set(const ValuePtr& d, std::string key, ValuePtr v) { d->entries.emplace_back(pickle::string(std::move(key)), std::move(v)); }
inline ValuePtr int_list(const std::vector<std::int64_t>& values) {
  auto l = sequence(Value::Kind::list);
  for (auto i : values) l->items.push_back(integer(i));
  return l;
}
inline void set_tensor(const ValuePtr& d, std::string key, const at::Tensor& t) {
  if (t.defined()) set(d, std::move(key), tensor(t));
}
inline ValuePtr sampler_value(const SamplerState& s) {
  auto d = dict();
  set(d, "kind", pickle::string(s.kind));
  set(d, "values", int_list(s.values));
  return d;
}

// --- reading them back: every access checks the type, errors name the file and the entry ------
class Reader {
 public:
  explicit Reader(std::filesystem::path path) : path_(std::move(path)) {}

  [[noreturn]] void damaged(const std::string& what) const { throw checkpoint_error(path_, "damaged training checkpoint: " + what); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  static const Value* find(const Value& d, std::string_view key) { return pickle::find(d, key); }
  const Value& get(const Value& d, std::string_view key, Value::Kind kind, const std::string& where) const {
    const Value* v = find(d, key);
    if (!v) damaged(where + "'" + std::string(key) + "' is missing");
    if (v->kind != kind) damaged(where + "'" + std::string(key) + "' has the wrong type");
    return *v;
  }
  std::int64_t get_int(const Value& d, std::string_view key, const std::string& where) const {
    return get(d, key, Value::Kind::integer, where).integer;
  }
  double get_real(const Value& d, std::string_view key, const std::string& where) const {
    const Value* v = find(d, key);
    if (v && v->kind == Value::Kind::integer) return static_cast<double>(v->integer);
    return get(d, key, Value::Kind::real, where).real;
  }
  bool get_bool(const Value& d, std::string_view key, const std::string& where) const {
    return get(d, key, Value::Kind::boolean, where).integer != 0;
  }
  std::string get_string(const Value& d, std::string_view key, const std::string& where) const {
    return get(d, key, Value::Kind::string, where).text;
  }
  std::vector<std::int64_t> get_ints(const Value& d, std::string_view key, const std::string& where) const {
    std::vector<std::int64_t> out;
    for (const auto& i : get(d, key, Value::Kind::list, where).items) {
      if (i->kind != Value::Kind::integer) damaged(where + "'" + std::string(key) + "' holds a non-integer");
      out.push_back(i->integer);
    }
    return out;
  }
  // A random generator's state: a small 1-D uint8 tensor, copied out of the file; undefined when absent.
  at::Tensor get_rng(const Value& d, std::string_view key, const std::string& where) const {
    const Value* v = find(d, key);
    if (!v) return {};
    if (v->kind != Value::Kind::tensor || v->tensor.scalar_type() != at::kByte || v->tensor.dim() != 1 || v->tensor.numel() > (std::int64_t(1) << 20))
      damaged(where + "'" + std::string(key) + "' is not a generator state (a 1-D uint8 tensor)");
    return v->tensor.clone();
  }
  SamplerState get_sampler(const Value& d, const std::string& where) const {
    const Value& s = get(d, "sampler", Value::Kind::dict, where);
    return SamplerState{.kind = get_string(s, "kind", where + "'sampler'."), .values = get_ints(s, "values", where + "'sampler'.")};
  }
  // A tensor of exactly `like`'s shape, copied into new memory laid out as `like` (its device, its format).
  at::Tensor get_like(const Value& d, std::string_view key, const at::Tensor& like, const std::string& where) const {
    return copy_like(get(d, key, Value::Kind::tensor, where), where + "'" + std::string(key) + "'", like);
  }
  // `v`, a tensor named `what` in errors, likewise.
  at::Tensor copy_like(const Value& v, const std::string& what, const at::Tensor& like) const {
    if (v.kind != Value::Kind::tensor) damaged(what + " is not a tensor");
    if (v.tensor.sizes() != like.sizes() || v.tensor.scalar_type() != like.scalar_type())
      damaged(what + " is " + std::string(c10::toString(v.tensor.scalar_type())) + " " + detail::shape_string(v.tensor.sizes()) + ", the parameter " +
              std::string(c10::toString(like.scalar_type())) + " " + detail::shape_string(like.sizes()));
    at::NoGradGuard no_grad;
    return at::empty_like(like).copy_(v.tensor);
  }
  at::Tensor get_like_optional(const Value& d, std::string_view key, const at::Tensor& like, const std::string& where) const {
    return find(d, key) ? get_like(d, key, like, where) : at::Tensor();
  }

 private:
  std::filesystem::path path_;
};

// --- the optimizer, in Python's `state_dict()` layout ------------------------------------------
inline const char* optimizer_type(const torch::optim::Optimizer& opt) {
  if (dynamic_cast<const torch::optim::AdamW*>(&opt)) return "AdamW";
  if (dynamic_cast<const torch::optim::Adam*>(&opt)) return "Adam";
  if (dynamic_cast<const torch::optim::SGD*>(&opt)) return "SGD";
  if (dynamic_cast<const torch::optim::RMSprop*>(&opt)) return "RMSprop";
  return nullptr;
}

template <class Options>
void put_adam_options(const ValuePtr& g, const Options& o) {
  set(g, "lr", real(o.lr()));
  set(g, "betas", sequence(Value::Kind::tuple, {real(std::get<0>(o.betas())), real(std::get<1>(o.betas()))}));
  set(g, "eps", real(o.eps()));
  set(g, "weight_decay", real(o.weight_decay()));
  set(g, "amsgrad", boolean(o.amsgrad()));
}
template <class State>
void put_adam_state(const ValuePtr& d, const State& s) {
  set(d, "step", integer(s.step()));
  set_tensor(d, "exp_avg", s.exp_avg());
  set_tensor(d, "exp_avg_sq", s.exp_avg_sq());
  set_tensor(d, "max_exp_avg_sq", s.max_exp_avg_sq());
}

inline ValuePtr optimizer_value(const torch::optim::Optimizer& opt, const std::filesystem::path& path) {
  const char* type = optimizer_type(opt);
  if (!type) throw checkpoint_error(path, "cannot checkpoint this optimizer (supported: AdamW, Adam, SGD, RMSprop)");
  const std::string_view t = type;
  auto out = dict();
  set(out, "type", pickle::string(type));
  auto state = dict();
  auto groups = sequence(Value::Kind::list);
  std::int64_t index = 0;
  for (const auto& group : opt.param_groups()) {
    auto g = dict();
    const auto& o = group.options();
    if (t == "AdamW")
      put_adam_options(g, static_cast<const torch::optim::AdamWOptions&>(o));
    else if (t == "Adam")
      put_adam_options(g, static_cast<const torch::optim::AdamOptions&>(o));
    else if (t == "RMSprop") {
      const auto& rms = static_cast<const torch::optim::RMSpropOptions&>(o);
      set(g, "lr", real(rms.lr()));
      set(g, "alpha", real(rms.alpha()));
      set(g, "eps", real(rms.eps()));
      set(g, "weight_decay", real(rms.weight_decay()));
      set(g, "momentum", real(rms.momentum()));
      set(g, "centered", boolean(rms.centered()));
    } else {
      const auto& sgd = static_cast<const torch::optim::SGDOptions&>(o);
      set(g, "lr", real(sgd.lr()));
      set(g, "momentum", real(sgd.momentum()));
      set(g, "dampening", real(sgd.dampening()));
      set(g, "weight_decay", real(sgd.weight_decay()));
      set(g, "nesterov", boolean(sgd.nesterov()));
    }
    auto params = sequence(Value::Kind::list);
    for (const auto& p : group.params()) {
      params->items.push_back(integer(index));
      if (auto it = opt.state().find(p.unsafeGetTensorImpl()); it != opt.state().end()) {
        auto s = dict();
        if (t == "AdamW")
          put_adam_state(s, static_cast<const torch::optim::AdamWParamState&>(*it->second));
        else if (t == "Adam")
          put_adam_state(s, static_cast<const torch::optim::AdamParamState&>(*it->second));
        else if (t == "RMSprop") {
          const auto& rms = static_cast<const torch::optim::RMSpropParamState&>(*it->second);
          set(s, "step", integer(rms.step()));
          set_tensor(s, "square_avg", rms.square_avg());
          set_tensor(s, "momentum_buffer", rms.momentum_buffer());
          set_tensor(s, "grad_avg", rms.grad_avg());
        } else
          set_tensor(s, "momentum_buffer", static_cast<const torch::optim::SGDParamState&>(*it->second).momentum_buffer());
        state->entries.emplace_back(integer(index), s);
      }
      ++index;
    }
    set(g, "params", params);
    groups->items.push_back(g);
  }
  set(out, "state", state);
  set(out, "param_groups", groups);
  if (const auto* orthogonal = dynamic_cast<const OrthogonalGradients*>(&opt)) {
    auto o = dict();
    set(o, "beta", real(orthogonal->beta()));
    set(o, "videos", int_list(orthogonal->videos()));
    auto averages = dict();
    for (std::size_t i = 0; i < orthogonal->averages().size(); ++i) {
      if (orthogonal->averages()[i].defined())
        averages->entries.emplace_back(integer(static_cast<std::int64_t>(i)), tensor(orthogonal->averages()[i]));
    }
    set(o, "averages", averages);
    set(out, "orthogonal", o);
  }
  return out;
}

// The optimizer's state and options as read and checked, applied only once everything fit.
struct OptimizerRestore {
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> options;  // per group
  std::vector<std::pair<void*, std::unique_ptr<torch::optim::OptimizerParamState>>> state;
  double beta = 0;  // an orthogonal optimizer's (train/orthogonal.hpp)
  std::vector<at::Tensor> averages;
  std::vector<std::int64_t> videos;

  void apply(torch::optim::Optimizer& opt) {
    for (std::size_t g = 0; g < options.size(); ++g) opt.param_groups()[g].set_options(std::move(options[g]));
    opt.state().clear();
    for (auto& [key, s] : state) opt.state()[key] = std::move(s);
    if (auto* orthogonal = dynamic_cast<OrthogonalGradients*>(&opt)) orthogonal->restore(beta, std::move(averages), std::move(videos));
  }
};

template <class Options>
void read_adam(const Reader& r, const Value& group, const std::string& where, OptimizerRestore& out) {
  const Value& betas = r.get(group, "betas", Value::Kind::tuple, where);
  if (betas.items.size() != 2 || betas.items[0]->kind != Value::Kind::real || betas.items[1]->kind != Value::Kind::real)
    r.damaged(where + "'betas' is not a pair of floats");
  Options o(r.get_real(group, "lr", where));
  o.betas(std::make_tuple(betas.items[0]->real, betas.items[1]->real))
      .eps(r.get_real(group, "eps", where))
      .weight_decay(r.get_real(group, "weight_decay", where))
      .amsgrad(r.get_bool(group, "amsgrad", where));
  out.options.push_back(std::make_unique<Options>(o));
}

// An orthogonal optimizer's averages and videos: there exactly when `opt` is one.
inline void read_orthogonal(const Reader& r, const Value& v, const torch::optim::Optimizer& opt, const std::vector<at::Tensor>& params,
                            OptimizerRestore& out) {
  const Value* saved = Reader::find(v, "orthogonal");
  const bool here = dynamic_cast<const OrthogonalGradients*>(&opt) != nullptr;
  if ((saved != nullptr) != here)
    throw checkpoint_error(r.path(), std::string("the optimizer does not match the checkpoint (") + (here ? "plain" : "orthogonal") +
                                         " gradients there, " + (here ? "orthogonal" : "plain") + " here)");
  if (!saved) return;
  const std::string where = "'optimizer'.'orthogonal'.";
  if (saved->kind != Value::Kind::dict) r.damaged(where + " is not a dict");
  out.beta = r.get_real(*saved, "beta", where);
  if (!(out.beta >= 0 && out.beta < 1)) r.damaged(where + "'beta' is not in [0, 1)");
  out.videos = r.get_ints(*saved, "videos", where);
  out.averages.resize(params.size());
  for (const auto& [k, t] : r.get(*saved, "averages", Value::Kind::dict, where).entries) {
    if (k->kind != Value::Kind::integer || k->integer < 0 || k->integer >= static_cast<std::int64_t>(params.size()) ||
        out.averages[static_cast<std::size_t>(k->integer)].defined())
      r.damaged(where + "'averages' has a key that numbers no parameter (or one twice)");
    const auto index = static_cast<std::size_t>(k->integer);
    out.averages[index] = r.copy_like(*t, where + "'averages'[" + std::to_string(index) + "]", params[index]);
  }
}

inline OptimizerRestore read_optimizer(const Reader& r, const Value& root, torch::optim::Optimizer& opt) {
  const Value& v = r.get(root, "optimizer", Value::Kind::dict, "");
  const char* have = optimizer_type(opt);
  const std::string type = r.get_string(v, "type", "'optimizer'.");
  if (!have || type != have)
    throw checkpoint_error(r.path(),
                           "the optimizer does not match the checkpoint (" + type + " there, " + (have ? have : "an unsupported type") + " here)");
  const auto& groups = r.get(v, "param_groups", Value::Kind::list, "'optimizer'.").items;
  if (groups.size() != opt.param_groups().size())
    throw checkpoint_error(r.path(), "the optimizer does not match the checkpoint (" + std::to_string(groups.size()) + " parameter groups there, " +
                                         std::to_string(opt.param_groups().size()) + " here)");
  OptimizerRestore out;
  std::vector<at::Tensor> params;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string where = "'optimizer'.'param_groups'[" + std::to_string(g) + "].";
    if (groups[g]->kind != Value::Kind::dict) r.damaged(where + " is not a dict");
    const Value& group = *groups[g];
    const auto indices = r.get_ints(group, "params", where);
    const auto& own = opt.param_groups()[g].params();
    if (indices.size() != own.size())
      throw checkpoint_error(r.path(), "the optimizer does not match the checkpoint (group " + std::to_string(g) + " has " +
                                           std::to_string(indices.size()) + " parameters there, " + std::to_string(own.size()) + " here)");
    for (std::size_t i = 0; i < indices.size(); ++i)
      if (indices[i] != static_cast<std::int64_t>(params.size() + i)) r.damaged(where + "'params' is not numbered in order");
    params.insert(params.end(), own.begin(), own.end());
    if (type == "AdamW")
      read_adam<torch::optim::AdamWOptions>(r, group, where, out);
    else if (type == "Adam")
      read_adam<torch::optim::AdamOptions>(r, group, where, out);
    else if (type == "RMSprop") {
      torch::optim::RMSpropOptions o(r.get_real(group, "lr", where));
      o.alpha(r.get_real(group, "alpha", where))
          .eps(r.get_real(group, "eps", where))
          .weight_decay(r.get_real(group, "weight_decay", where))
          .momentum(r.get_real(group, "momentum", where))
          .centered(r.get_bool(group, "centered", where));
      out.options.push_back(std::make_unique<torch::optim::RMSpropOptions>(o));
    } else {
      torch::optim::SGDOptions o(r.get_real(group, "lr", where));
      o.momentum(r.get_real(group, "momentum", where))
          .dampening(r.get_real(group, "dampening", where))
          .weight_decay(r.get_real(group, "weight_decay", where))
          .nesterov(r.get_bool(group, "nesterov", where));
      out.options.push_back(std::make_unique<torch::optim::SGDOptions>(o));
    }
  }
  std::vector<bool> seen(params.size(), false);
  for (const auto& [k, s] : r.get(v, "state", Value::Kind::dict, "'optimizer'.").entries) {
    if (k->kind != Value::Kind::integer || k->integer < 0 || k->integer >= static_cast<std::int64_t>(params.size()) ||
        seen[static_cast<std::size_t>(k->integer)])
      r.damaged("'optimizer'.'state' has a key that numbers no parameter (or one twice)");
    const auto index = static_cast<std::size_t>(k->integer);
    seen[index] = true;
    const std::string where = "'optimizer'.'state'[" + std::to_string(index) + "].";
    if (s->kind != Value::Kind::dict) r.damaged(where + " is not a dict");
    const Value& entry = *s;  // (clang < 16 lets no lambda capture a structured binding)
    const at::Tensor& p = params[index];
    std::unique_ptr<torch::optim::OptimizerParamState> state;
    auto adam = [&](auto st) {
      const auto step = r.get_int(entry, "step", where);
      if (step < 0) r.damaged(where + "'step' is negative");
      st->step(step);
      st->exp_avg(r.get_like(entry, "exp_avg", p, where));
      st->exp_avg_sq(r.get_like(entry, "exp_avg_sq", p, where));
      st->max_exp_avg_sq(r.get_like_optional(entry, "max_exp_avg_sq", p, where));
      state = std::move(st);
    };
    if (type == "AdamW")
      adam(std::make_unique<torch::optim::AdamWParamState>());
    else if (type == "Adam")
      adam(std::make_unique<torch::optim::AdamParamState>());
    else if (type == "RMSprop") {
      auto st = std::make_unique<torch::optim::RMSpropParamState>();
      const auto step = r.get_int(entry, "step", where);
      if (step < 0) r.damaged(where + "'step' is negative");
      st->step(step);
      st->square_avg(r.get_like(entry, "square_avg", p, where));
      st->momentum_buffer(r.get_like_optional(entry, "momentum_buffer", p, where));
      st->grad_avg(r.get_like_optional(entry, "grad_avg", p, where));
      state = std::move(st);
    } else {
      auto st = std::make_unique<torch::optim::SGDParamState>();
      st->momentum_buffer(r.get_like_optional(entry, "momentum_buffer", p, where));
      state = std::move(st);
    }
    out.state.emplace_back(p.unsafeGetTensorImpl(), std::move(state));
  }
  read_orthogonal(r, v, opt, params, out);
  return out;
}

// --- the whole file --------------------------------------------------------------------------
inline ValuePtr checkpoint_value(const torch::nn::Module& module, const torch::optim::Optimizer& optimizer, const TrainingState& state,
                                 const std::filesystem::path& path) {
  auto root = dict();
  set(root, "format", pickle::string(checkpoint_format));
  set(root, "step", integer(state.step));
  set(root, "options", pickle::string(state.options));
  set(root, "sampler", sampler_value(state.sampler));
  auto rng = dict();
  set_tensor(rng, "cpu", state.cpu_rng);
  set_tensor(rng, "device", state.device_rng);
  set_tensor(rng, "objective", state.objective_rng);
  set(root, "rng", rng);
  auto ranks = sequence(Value::Kind::list);
  for (const RankState& rs : state.ranks) {
    auto r = dict();
    set(r, "sampler", sampler_value(rs.sampler));
    auto g = dict();
    set_tensor(g, "cpu", rs.cpu_rng);
    set_tensor(g, "objective", rs.objective_rng);
    set(r, "rng", g);
    ranks->items.push_back(r);
  }
  set(root, "ranks", ranks);
  std::vector<std::pair<std::string, at::Tensor>> model;
  for (const auto& item : longform::state_dict(module)) model.emplace_back(item.key(), item.value());
  set(root, "model", pickle::state_dict_value(model));
  set(root, "optimizer", optimizer_value(optimizer, path));
  return root;
}

// The root dict of a parsed file, its format checked.
inline const Value& checked_root(const ValuePtr& root, const std::filesystem::path& path) {
  if (root->kind == Value::Kind::object && root->text.starts_with("__torch__"))
    throw checkpoint_error(path,
                           "a training checkpoint of format 1 (a TorchScript archive from an older longform), "
                           "which is not read any more: TorchScript's loader is not safe for untrusted files. "
                           "Resume the run with the longform that wrote it, or take its weights in Python with "
                           "torch.jit.load(path).model.state_dict()");
  const Value* format = root->kind == Value::Kind::dict ? Reader::find(*root, "format") : nullptr;
  if (!format || format->kind != Value::Kind::string || !format->text.starts_with("longform.training_checkpoint/"))
    throw checkpoint_error(path, std::string("not a longform training checkpoint (no '") + checkpoint_format + "' tag)");
  if (format->text != checkpoint_format)
    throw checkpoint_error(path, "a training checkpoint of format '" + format->text + "'; this longform reads '" + checkpoint_format + "'");
  return *root;
}

inline ValuePtr parse(std::string_view bytes, const std::filesystem::path& path) {
  try {
    return pickle::load_bytes(bytes);
  } catch (const std::exception& e) {
    throw checkpoint_error(path, "not a readable checkpoint archive (" + first_line(e) + ")");
  }
}

inline ValuePtr parse_file(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) throw checkpoint_error(path, "no such checkpoint file");
  try {
    return pickle::load(path.string());
  } catch (const std::exception& e) {
    throw checkpoint_error(path, "not a readable checkpoint archive (" + first_line(e) + ")");
  }
}

inline TrainingState read_state(const Reader& r, const Value& root) {
  TrainingState st;
  st.step = r.get_int(root, "step", "");
  if (st.step < 0) r.damaged("'step' is negative");
  st.options = r.get_string(root, "options", "");
  st.sampler = r.get_sampler(root, "");
  const Value& rng = r.get(root, "rng", Value::Kind::dict, "");
  st.cpu_rng = r.get_rng(rng, "cpu", "'rng'.");
  st.device_rng = r.get_rng(rng, "device", "'rng'.");
  st.objective_rng = r.get_rng(rng, "objective", "'rng'.");
  const auto& ranks = r.get(root, "ranks", Value::Kind::list, "").items;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const std::string where = "'ranks'[" + std::to_string(i) + "].";
    if (ranks[i]->kind != Value::Kind::dict) r.damaged(where + " is not a dict");
    RankState rs;
    rs.sampler = r.get_sampler(*ranks[i], where);
    const Value& g = r.get(*ranks[i], "rng", Value::Kind::dict, where);
    rs.cpu_rng = r.get_rng(g, "cpu", where + "'rng'.");
    rs.objective_rng = r.get_rng(g, "objective", where + "'rng'.");
    st.ranks.push_back(std::move(rs));
  }
  return st;
}

// The `model` state dict.
inline StateDict read_model(const Reader& r, const Value& root) {
  StateDict out;
  for (const auto& [k, v] : r.get(root, "model", Value::Kind::dict, "").entries) {
    if (k->kind != Value::Kind::string || v->kind != Value::Kind::tensor) r.damaged("'model' holds a non-tensor entry");
    if (out.contains(k->text)) r.damaged("'model' has '" + k->text + "' twice");
    out.insert(k->text, v->tensor);
  }
  return out;
}

// Copies `sd` into `module` (strict: names and shapes), or a checkpoint_error saying what did not fit.
inline void load_model(torch::nn::Module& module, const StateDict& sd, const std::filesystem::path& path, const std::string& what) {
  try {
    load_state_dict(module, sd, what);
  } catch (const state_dict_error& e) {
    throw checkpoint_error(path, "the model does not match the checkpoint: " + std::string(e.what()));
  }
}

}  // namespace detail::ckpt

/// Writes a checkpoint of `module`, `optimizer` and `state` to `path`, atomically (see the file comment).
/// @throws checkpoint_error naming `path` (also for an optimizer other than AdamW, Adam, SGD).
inline void save_training_checkpoint(const std::filesystem::path& path, const torch::nn::Module& module, const torch::optim::Optimizer& optimizer,
                                     const TrainingState& state) {
  detail::pickle::ValuePtr root;
  try {
    root = detail::ckpt::checkpoint_value(module, optimizer, state, path);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "cannot serialize the training state (" + detail::first_line(e) + ")");
  }
  write_atomically(path, [&](const ByteSink& sink) {
    try {
      detail::pickle::save(*root, sink);
    } catch (const checkpoint_error&) {
      throw;
    } catch (const std::exception& e) {
      throw checkpoint_error(path, "cannot write the archive (" + detail::first_line(e) + ")");
    }
  });
}

/// Reads the `TrainingState` of a checkpoint held in memory (`path` only names it in errors):
/// what `read_training_state` does after reading the file. @throws checkpoint_error naming `path`.
[[nodiscard]] inline TrainingState read_training_state_bytes(std::string_view bytes, const std::filesystem::path& path) {
  const auto root = detail::ckpt::parse(bytes, path);
  const detail::ckpt::Reader r(path);
  return detail::ckpt::read_state(r, detail::ckpt::checked_root(root, path));
}

/// Reads only the `TrainingState` of a checkpoint (step, sampler state, RNG states, options), e.g.
/// to inspect it. @throws checkpoint_error naming `path`.
[[nodiscard]] inline TrainingState read_training_state(const std::filesystem::path& path) {
  const auto root = detail::ckpt::parse_file(path);
  const detail::ckpt::Reader r(path);
  return detail::ckpt::read_state(r, detail::ckpt::checked_root(root, path));
}

/// Loads a checkpoint into `module` and `optimizer` and returns the rest. Tensors are copied into
/// the module's own (already on `device`, in its memory format) and the optimizer's state is made
/// like its parameters. The module and optimizer must be built as for the run that wrote it (same
/// objective, same parameter order, same optimizer type); nothing is changed unless all of it fits.
/// @throws checkpoint_error naming `path` and what did not fit.
inline TrainingState load_training_checkpoint(const std::filesystem::path& path, torch::nn::Module& module, torch::optim::Optimizer& optimizer,
                                              c10::Device device) {
  (void)device;  // the module is there already; every tensor goes where its destination is
  const auto root = detail::ckpt::parse_file(path);
  const detail::ckpt::Reader r(path);
  const auto& dict = detail::ckpt::checked_root(root, path);
  TrainingState st = detail::ckpt::read_state(r, dict);
  const StateDict model = detail::ckpt::read_model(r, dict);
  auto restore = detail::ckpt::read_optimizer(r, dict, optimizer);  // checked before anything is changed
  detail::ckpt::load_model(module, model, path, path.string());
  restore.apply(optimizer);
  return st;
}

/// Whether `path` is a training checkpoint written by `save_training_checkpoint` (its format tag).
[[nodiscard]] inline bool is_training_checkpoint(const std::filesystem::path& path) {
  try {
    (void)read_training_state(path);
    return true;
  } catch (const checkpoint_error&) {
    return false;
  }
}

/// The state dict of a training checkpoint's objective (its `model` entry): every submodule's
/// weights under Python's names, e.g. `encoder_q.blocks.0.conv.conv_t.weight`.
/// @throws checkpoint_error naming `path` when it is no training checkpoint.
[[nodiscard]] inline StateDict read_training_model(const std::filesystem::path& path) {
  const auto root = detail::ckpt::parse_file(path);
  const detail::ckpt::Reader r(path);
  return detail::ckpt::read_model(r, detail::ckpt::checked_root(root, path));
}

/// The state dict of submodule `name` of a training checkpoint's objective (MoCo's query encoder
/// `encoder_q`, distillation's `student`, VideoMAE's `encoder`), keys relative to it, in the
/// module's order: what `longform export` writes for Python.
/// @throws checkpoint_error naming `path` when it is no training checkpoint or has no such submodule.
[[nodiscard]] inline StateDict read_training_submodule(const std::filesystem::path& path, const std::string& name) {
  StateDict sd = strip_prefix(read_training_model(path), name + ".");
  if (sd.is_empty()) throw checkpoint_error(path, "the training checkpoint has no submodule '" + name + "'");
  return sd;
}

/// Loads the weights of submodule `name` of a training checkpoint's objective (e.g. MoCo's query
/// encoder `encoder_q`, distillation's `student`, VideoMAE's `encoder`) into `module`, mapped to
/// `device`: the way from a pre-training run to downstream evaluation.
/// @throws checkpoint_error naming `path` when it is no training checkpoint, has no such
/// submodule, or its tensors do not fit `module`.
inline void load_training_submodule(const std::filesystem::path& path, const std::string& name, torch::nn::Module& module,
                                    c10::Device device = c10::Device(c10::kCPU)) {
  module.to(device);
  detail::ckpt::load_model(module, read_training_submodule(path, name), path, path.string() + " '" + name + "'");
}

}  // namespace longform
