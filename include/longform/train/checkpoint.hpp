// SPDX-License-Identifier: MIT
/// @file
/// Training checkpoints: one `torch::serialize` archive holding everything a `Pretrainer` needs
/// to continue a run exactly — the objective's root module (trainable weights, momentum copies,
/// queues), the optimizer (moments, step counts), the step (the LR schedule is a function of it),
/// the sampler's `SamplerState` and the random generators' states.
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
/// Python can list the archive with `torch.jit.load` (it is a TorchScript module archive), but the
/// model weights for Python are better exported with `save_state_dict` (backbone/weights.hpp).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <longform/core/clip.hpp>
#include <longform/core/error.hpp>

namespace longform {

/// A checkpoint could not be written or read; `path()` names the file.
class checkpoint_error : public config_error {
 public:
  checkpoint_error(const std::filesystem::path& path, const std::string& detail)
      : config_error(path.string() + ": " + detail), path_(path) {}
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
  std::int64_t step = 0;      ///< optimizer steps done
  SamplerState sampler;       ///< resume point after the last clip trained on
  at::Tensor cpu_rng;         ///< LibTorch's default CPU generator
  at::Tensor device_rng;      ///< the training device's default generator (CUDA); undefined on CPU
  at::Tensor objective_rng;   ///< the objective's own generator, when it exposes one
  std::string options;        ///< the run's `PretrainerOptions` as JSON (provenance)
  std::vector<RankState> ranks;  ///< a data-parallel run: every rank's state, index = rank (rank 0's is also above); else empty
};

/// The format tag stored in every checkpoint.
inline constexpr const char* checkpoint_format = "longform.training_checkpoint/1";

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

/// Writes a checkpoint of `module`, `optimizer` and `state` to `path`, atomically (see the file comment).
/// @throws checkpoint_error naming `path`.
inline void save_training_checkpoint(const std::filesystem::path& path, const torch::nn::Module& module,
                                     const torch::optim::Optimizer& optimizer, const TrainingState& state) {
  torch::serialize::OutputArchive archive;
  try {
    archive.write("format", c10::IValue(std::string(checkpoint_format)));
    archive.write("step", c10::IValue(state.step));
    archive.write("sampler_kind", c10::IValue(state.sampler.kind));
    archive.write("sampler_values", c10::IValue(state.sampler.values));
    archive.write("options", c10::IValue(state.options));
    if (state.cpu_rng.defined()) archive.write("rng_cpu", state.cpu_rng, /*is_buffer=*/true);
    if (state.device_rng.defined()) archive.write("rng_device", state.device_rng, /*is_buffer=*/true);
    if (state.objective_rng.defined()) archive.write("rng_objective", state.objective_rng, /*is_buffer=*/true);
    archive.write("ranks", c10::IValue(static_cast<std::int64_t>(state.ranks.size())));
    for (std::size_t r = 0; r < state.ranks.size(); ++r) {
      const std::string key = "rank" + std::to_string(r) + "_";
      const RankState& rs = state.ranks[r];
      archive.write(key + "sampler_kind", c10::IValue(rs.sampler.kind));
      archive.write(key + "sampler_values", c10::IValue(rs.sampler.values));
      if (rs.cpu_rng.defined()) archive.write(key + "rng_cpu", rs.cpu_rng, /*is_buffer=*/true);
      if (rs.objective_rng.defined()) archive.write(key + "rng_objective", rs.objective_rng, /*is_buffer=*/true);
    }
    torch::serialize::OutputArchive model;
    module.save(model);
    archive.write("model", model);
    torch::serialize::OutputArchive opt;
    optimizer.save(opt);
    archive.write("optimizer", opt);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "cannot serialize the training state (" + detail::first_line(e) + ")");
  }
  write_atomically(path, [&](const ByteSink& sink) {
    try {
      archive.save_to(sink);
    } catch (const c10::Error& e) {
      throw checkpoint_error(path, "cannot write the archive (" + detail::first_line(e) + ")");
    }
  });
}

namespace detail {
inline TrainingState read_state(torch::serialize::InputArchive& archive, const std::filesystem::path& path) {
  c10::IValue v;
  if (!archive.try_read("format", v) || !v.isString() || v.toStringRef() != checkpoint_format) {
    throw checkpoint_error(path, std::string("not a longform training checkpoint (no '") + checkpoint_format + "' tag)");
  }
  TrainingState st;
  archive.read("step", v);
  st.step = v.toInt();
  archive.read("sampler_kind", v);
  st.sampler.kind = v.toStringRef();
  archive.read("sampler_values", v);
  st.sampler.values = v.toIntVector();
  archive.read("options", v);
  st.options = v.toStringRef();
  at::Tensor t;
  if (archive.try_read("rng_cpu", t, /*is_buffer=*/true)) st.cpu_rng = t;
  at::Tensor d;
  if (archive.try_read("rng_device", d, /*is_buffer=*/true)) st.device_rng = d;
  at::Tensor o;
  if (archive.try_read("rng_objective", o, /*is_buffer=*/true)) st.objective_rng = o;
  if (archive.try_read("ranks", v)) {  // older checkpoints have no per-rank entries
    st.ranks.resize(static_cast<std::size_t>(v.toInt()));
    for (std::size_t r = 0; r < st.ranks.size(); ++r) {
      const std::string key = "rank" + std::to_string(r) + "_";
      RankState& rs = st.ranks[r];
      archive.read(key + "sampler_kind", v);
      rs.sampler.kind = v.toStringRef();
      archive.read(key + "sampler_values", v);
      rs.sampler.values = v.toIntVector();
      at::Tensor c, g;
      if (archive.try_read(key + "rng_cpu", c, /*is_buffer=*/true)) rs.cpu_rng = c;
      if (archive.try_read(key + "rng_objective", g, /*is_buffer=*/true)) rs.objective_rng = g;
    }
  }
  return st;
}

inline void open_archive(torch::serialize::InputArchive& archive, const std::filesystem::path& path,
                         std::optional<c10::Device> device) {
  if (!std::filesystem::is_regular_file(path)) throw checkpoint_error(path, "no such checkpoint file");
  try {
    archive.load_from(path.string(), device);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "not a readable checkpoint archive (" + first_line(e) + ")");
  }
}
}  // namespace detail

namespace detail {
// Loads sub-archive `key` of `archive` into `module`.
// NOTE: `Module::load` replaces each tensor's storage without comparing shapes, so a checkpoint
// of another architecture would load "fine"; compare before and after, by name.
inline void load_module_checked(torch::serialize::InputArchive& archive, const std::string& key, torch::nn::Module& module,
                                const std::filesystem::path& path) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
  for (const auto& p : module.named_parameters()) shapes.emplace_back(p.key(), p.value().sizes().vec());
  for (const auto& b : module.named_buffers()) shapes.emplace_back(b.key(), b.value().sizes().vec());
  try {
    torch::serialize::InputArchive model;
    archive.read(key, model);
    module.load(model);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "the model does not match the checkpoint's '" + key + "' (" + first_line(e) + ")");
  }
  auto loaded = module.named_parameters();
  auto loaded_buffers = module.named_buffers();
  for (const auto& [name, sizes] : shapes) {
    const at::Tensor* t = loaded.find(name);
    if (!t) t = loaded_buffers.find(name);
    if (t && t->sizes().vec() != sizes) {
      throw checkpoint_error(path, "the model does not match the checkpoint: '" + name + "' has another shape there");
    }
  }
}
}  // namespace detail

/// Reads only the `TrainingState` of a checkpoint (step, sampler state, RNG states, options), e.g.
/// to inspect it. @throws checkpoint_error naming `path`.
[[nodiscard]] inline TrainingState read_training_state(const std::filesystem::path& path) {
  torch::serialize::InputArchive archive;
  detail::open_archive(archive, path, c10::Device(c10::kCPU));
  try {
    return detail::read_state(archive, path);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "damaged training state (" + detail::first_line(e) + ")");
  }
}

/// Loads a checkpoint into `module` and `optimizer` (tensors mapped to `device`) and returns the
/// rest. The module and optimizer must be built as for the run that wrote it (same objective, same
/// parameter order). @throws checkpoint_error naming `path` and what did not fit.
inline TrainingState load_training_checkpoint(const std::filesystem::path& path, torch::nn::Module& module,
                                              torch::optim::Optimizer& optimizer, c10::Device device) {
  torch::serialize::InputArchive archive;
  detail::open_archive(archive, path, device);
  TrainingState st;
  try {
    st = detail::read_state(archive, path);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "damaged training state (" + detail::first_line(e) + ")");
  }
  detail::load_module_checked(archive, "model", module, path);
  try {
    torch::serialize::InputArchive opt;
    archive.read("optimizer", opt);
    optimizer.load(opt);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "the optimizer does not match the checkpoint (" + detail::first_line(e) + ")");
  }
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

/// Loads the weights of submodule `name` of a training checkpoint's objective (e.g. MoCo's query
/// encoder `encoder_q`, distillation's `student`, VideoMAE's `encoder`) into `module`, mapped to
/// `device`: the way from a pre-training run to downstream evaluation.
/// @throws checkpoint_error naming `path` when it is no training checkpoint, has no such
/// submodule, or its tensors do not fit `module`.
inline void load_training_submodule(const std::filesystem::path& path, const std::string& name, torch::nn::Module& module,
                                    c10::Device device = c10::Device(c10::kCPU)) {
  torch::serialize::InputArchive archive;
  detail::open_archive(archive, path, device);
  torch::serialize::InputArchive model;
  try {
    archive.read("model", model);
  } catch (const c10::Error& e) {
    throw checkpoint_error(path, "not a training checkpoint: no 'model' (" + detail::first_line(e) + ")");
  }
  detail::load_module_checked(model, name, module, path);
}

}  // namespace longform
