// SPDX-License-Identifier: MIT
/// @file
/// Checkpoints: read Python `torch.save` files into a module with strict checks, and write state
/// dicts that Python's `torch.load` (including the default `weights_only=True`) reads back.
///
///   auto model = longform::X3D(longform::x3d_m());
///   longform::load_checkpoint(*model, "X3D_M.pyth");                      // {"model_state": ...}
///   longform::load_checkpoint(*vit, "checkpoint.pth", {.prefix = "encoder."});  // VideoMAE pre-training
///   longform::load_checkpoint(*vit, "pytorch_model.bin",
///                             {.prefix = "encoder.", .naming = longform::KeyNaming::hugging_face});
///   longform::save_state_dict(*model, "x3d.pt");   // Python: model.load_state_dict(torch.load("x3d.pt"))
///
/// Hugging Face `VideoMAE*` -> MCG-NJU names (`KeyNaming::hugging_face`):
///
/// | Hugging Face                                                  | MCG-NJU VideoMAE                     |
/// |---------------------------------------------------------------|--------------------------------------|
/// | `videomae.embeddings.patch_embeddings.projection.*`           | `encoder.patch_embed.proj.*`         |
/// | `videomae.encoder.layer.{i}.layernorm_before.*` / `_after.*`  | `encoder.blocks.{i}.norm1.*` / `norm2.*` |
/// | `...attention.attention.{query,key,value}.weight`             | `...attn.qkv.weight` (concatenated q, k, v) |
/// | `...attention.attention.query.bias` / `value.bias` (or `q_bias` / `v_bias`) | `...attn.q_bias` / `attn.v_bias` |
/// | `...attention.output.dense.*`                                 | `...attn.proj.*`                     |
/// | `...intermediate.dense.*` / `...output.dense.*`               | `...mlp.fc1.*` / `...mlp.fc2.*`      |
/// | `videomae.layernorm.*`                                        | `encoder.norm.*`                     |
/// | `fc_norm.*`, `classifier.*`                                   | `encoder.fc_norm.*`, `encoder.head.*` |
/// | `decoder.decoder_layers.{i}.*`                                | `decoder.blocks.{i}.*` (same inner renames) |
/// | `decoder.norm.*`, `decoder.head.*`, `encoder_to_decoder.*`, `mask_token` | unchanged          |
///
/// MCG-NJU's fine-tuning checkpoints name the encoder without a prefix; load them with `.prefix = ""`.
/// A bare `VideoMAEModel` state dict (`embeddings.*`, `encoder.layer.*`, `layernorm.*`, as
/// `videomae_to_hugging_face` and `longform export` write it) reads as if under `videomae.`.
#pragma once

#include <longform/backbone/detail/pickle.hpp>
#include <longform/core/error.hpp>
#include <longform/core/reflect.hpp>

#include <ATen/ops/cat.h>
#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace longform {

/// Name -> tensor in Python's `state_dict()` order.
using StateDict = torch::OrderedDict<std::string, at::Tensor>;

/// How the keys of a checkpoint are spelled.
enum class KeyNaming {
  native,        ///< as the modules here and upstream (PyTorchVideo, MCG-NJU VideoMAE) name them
  hugging_face,  ///< Hugging Face `transformers` `VideoMAE*` names, renamed on load (table in the file comment)
};
LONGFORM_REFLECT_ENUM(KeyNaming, native, hugging_face)

/// How to find the state dict inside a checkpoint file.
struct CheckpointOptions {
  /// Dict entry holding the state dict; empty: the first of `model_state` (PyTorchVideo),
  /// `model`, `module` (VideoMAE), `state_dict`, or else the file's top-level dict itself.
  std::string entry;
  /// Keep only keys starting with this (after renaming), and strip it: `"encoder."` loads the
  /// encoder of a VideoMAE pre-training checkpoint into a `VideoViT`.
  std::string prefix;
  /// Spelling of the keys in the file.
  KeyNaming naming = KeyNaming::native;
};

/// A state dict does not fit a module. `what()` names the input and lists the first missing,
/// unexpected and mismatched keys of each kind; the accessors return all of them.
class state_dict_error : public config_error {
 public:
  /// `source` names the input (a file path, or "state dict").
  state_dict_error(const std::string& source, std::vector<std::string> missing, std::vector<std::string> unexpected,
                   std::vector<std::string> mismatched)
      : config_error(describe(source, missing, unexpected, mismatched)),
        missing_(std::move(missing)),
        unexpected_(std::move(unexpected)),
        mismatched_(std::move(mismatched)) {}

  /// Keys the module has and the state dict lacks.
  [[nodiscard]] const std::vector<std::string>& missing() const noexcept { return missing_; }
  /// Keys the state dict has and the module lacks.
  [[nodiscard]] const std::vector<std::string>& unexpected() const noexcept { return unexpected_; }
  /// Keys present on both sides with different shapes, as "key: checkpoint [..] vs model [..]".
  [[nodiscard]] const std::vector<std::string>& mismatched() const noexcept { return mismatched_; }

 private:
  static std::string describe(const std::string& source, const std::vector<std::string>& missing, const std::vector<std::string>& unexpected,
                              const std::vector<std::string>& mismatched) {
    std::string s = source + ": state dict does not match the model";
    // The message shows the first keys of each kind; the accessors hold them all.
    auto list = [&s](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      constexpr std::size_t shown = 10;
      s += "\n  " + std::to_string(keys.size()) + " " + what + ":";
      for (std::size_t i = 0; i < keys.size() && i < shown; ++i) s += "\n    " + keys[i];
      if (keys.size() > shown) s += "\n    ... and " + std::to_string(keys.size() - shown) + " more";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("mismatched", mismatched);
    return s;
  }

  std::vector<std::string> missing_, unexpected_, mismatched_;
};

namespace detail {

// Python's order: a module's own parameters, then its own buffers, then each child's, depth-first.
// (LibTorch's `named_parameters()` lists all parameters before all buffers instead.)
inline void collect_state(const torch::nn::Module& m, const std::string& prefix, StateDict& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.insert(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.insert(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect_state(*c.value(), prefix + c.key() + ".", out);
}

inline std::string shape_string(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

}  // namespace detail

/// The module's parameters and buffers under Python's names and in Python's order; the tensors
/// alias the module's (detach or clone to keep a snapshot).
inline StateDict state_dict(const torch::nn::Module& module) {
  StateDict out;
  detail::collect_state(module, "", out);
  return out;
}

namespace detail {

/// The renames of the file comment's table as `{Hugging Face, MCG-NJU}` dotted paths, matched on
/// whole components of a key: `hugging_face_to_videomae` reads the table left to right and
/// `videomae_to_hugging_face` right to left. At each component the first matching row wins, so
/// a row must come before any shorter one that would match the same place.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 16> videomae_renames{{
    {"fc_norm", "encoder.fc_norm"},  // a classifier's head sits outside `videomae.` in Hugging Face
    {"classifier", "encoder.head"},
    {"videomae", "encoder"},
    {"embeddings.patch_embeddings.projection", "patch_embed.proj"},
    {"encoder.layer", "blocks"},
    {"decoder.decoder_layers", "decoder.blocks"},
    {"layernorm", "norm"},
    {"layernorm_before", "norm1"},
    {"layernorm_after", "norm2"},
    {"attention.output.dense", "attn.proj"},
    {"intermediate.dense", "mlp.fc1"},
    {"output.dense", "mlp.fc2"},
    {"attention.attention.query.bias", "attn.q_bias"},
    {"attention.attention.value.bias", "attn.v_bias"},
    // Older transformers releases; read only, since the two rows above come first when writing.
    {"attention.attention.q_bias", "attn.q_bias"},
    {"attention.attention.v_bias", "attn.v_bias"},
}};

/// MCG-NJU fuses the query, key and value projections into one weight (rows `[q; k; v]`);
/// Hugging Face keeps three.
inline constexpr std::string_view fused_qkv_weight = "attn.qkv.weight";
inline constexpr std::array<std::string_view, 3> split_qkv_weights{"attention.attention.query.weight", "attention.attention.key.weight",
                                                                   "attention.attention.value.weight"};

/// `key` renamed by `videomae_renames`, Hugging Face to MCG-NJU (`to_mcg`) or back.
inline std::string rename_videomae_key(std::string_view key, bool to_mcg) {
  std::string out;
  while (!key.empty()) {
    std::size_t used = 0;
    for (const auto& [hf, mcg] : videomae_renames) {
      const std::string_view from = to_mcg ? hf : mcg;
      if (key.starts_with(from) && (key.size() == from.size() || key[from.size()] == '.')) {
        out += to_mcg ? mcg : hf;
        used = from.size();
        break;
      }
    }
    if (used == 0) {  // no row names this component: keep it
      used = std::min(key.find('.'), key.size());
      out += key.substr(0, used);
    }
    key.remove_prefix(used);
    if (!key.empty()) {  // the '.' before the next component
      out += '.';
      key.remove_prefix(1);
    }
  }
  return out;
}

}  // namespace detail

/// Renames a Hugging Face `VideoMAE*` state dict to MCG-NJU VideoMAE names (table in the file comment).
/// Keys the table does not know keep their names, so a strict load reports them.
inline StateDict hugging_face_to_videomae(const StateDict& hf) {
  StateDict out;
  std::map<std::string, std::array<at::Tensor, 3>> qkv;  // block prefix -> {query, key, value} weights
  for (const auto& item : hf) {
    std::string k = item.key();
    if (k.starts_with("embeddings.") || k.starts_with("encoder.layer.") || k.starts_with("layernorm.")) k = "videomae." + k;
    k = detail::rename_videomae_key(k, /*to_mcg=*/true);
    const auto& split = detail::split_qkv_weights;
    const auto part = std::find_if(split.begin(), split.end(), [&k](std::string_view s) { return k.ends_with(s); });
    if (part == split.end()) {
      out.insert(k, item.value());
      continue;
    }
    const std::string block = k.substr(0, k.size() - part->size());
    auto& parts = qkv[block];
    parts[static_cast<std::size_t>(part - split.begin())] = item.value();
    if (parts[0].defined() && parts[1].defined() && parts[2].defined())
      out.insert(block + std::string(detail::fused_qkv_weight), at::cat({parts[0], parts[1], parts[2]}));
  }
  return out;
}

/// Renames a `VideoViT` state dict (MCG-NJU names, keys relative to the encoder) to Hugging Face
/// `transformers` names: the encoder as `VideoMAEModel` names it (`embeddings.*`, `encoder.layer.*`,
/// `layernorm.*`, the fused `qkv` split into `query`/`key`/`value`), each under `prefix` (`""` for
/// `VideoMAEModel`, `"videomae."` for `VideoMAEForVideoClassification`); a fine-tuning layout's
/// `fc_norm.*` and `head.*` become `fc_norm.*` and `classifier.*`. The inverse of
/// `hugging_face_to_videomae` (after its `encoder.` prefix), from the same table.
inline StateDict videomae_to_hugging_face(const StateDict& vit, const std::string& prefix = "") {
  StateDict out;
  for (const auto& item : vit) {
    std::string k = detail::rename_videomae_key("encoder." + item.key(), /*to_mcg=*/false);
    if (k.starts_with("videomae.")) k = prefix + k.substr(9);
    if (!k.ends_with(detail::fused_qkv_weight)) {
      out.insert(k, item.value());
      continue;
    }
    const std::string block = k.substr(0, k.size() - detail::fused_qkv_weight.size());
    const auto parts = item.value().chunk(3, 0);  // rows [q; k; v]
    for (std::size_t i = 0; i < 3; ++i) out.insert(block + std::string(detail::split_qkv_weights[i]), parts[i]);
  }
  return out;
}

/// Copies `state` into `module`'s parameters and buffers. Strict: every key of the module must be
/// present with the same shape and no other key may be; else `state_dict_error` naming `source`
/// and listing all offending keys. Nothing is copied unless everything matches.
inline void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source = "state dict") {
  auto target = state_dict(module);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& t : target) {
    const auto* s = state.find(t.key());
    if (!s)
      missing.push_back(t.key());
    else if (s->sizes() != t.value().sizes())
      mismatched.push_back(t.key() + ": checkpoint " + detail::shape_string(s->sizes()) + " vs model " + detail::shape_string(t.value().sizes()));
  }
  for (const auto& s : state)
    if (!target.contains(s.key())) unexpected.push_back(s.key());
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty())
    throw state_dict_error(source, std::move(missing), std::move(unexpected), std::move(mismatched));
  torch::NoGradGuard no_grad;
  for (auto& t : target) t.value().copy_(state[t.key()]);
}

/// The entries of `state` whose key starts with `prefix`, the prefix stripped (`"encoder_q."`:
/// a submodule's own state dict), in their order.
inline StateDict strip_prefix(const StateDict& state, const std::string& prefix) {
  StateDict out;
  for (const auto& item : state)
    if (item.key().starts_with(prefix)) out.insert(item.key().substr(prefix.size()), item.value());
  return out;
}

/// Reads the state dict of a Python `torch.save` checkpoint (zip format, PyTorch >= 1.6).
/// Throws `config_error` naming `path` when the file is unreadable or holds no such dict.
inline StateDict read_checkpoint(const std::filesystem::path& path, const CheckpointOptions& options = {}) {
  using detail::pickle::Value;
  detail::pickle::ValuePtr root;
  try {
    root = detail::pickle::load(path.string());
  } catch (const std::exception& e) {
    // c10::Error texts carry a C++ backtrace; the first line is the message.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw config_error(path.string() + ": not a readable torch.save checkpoint (" + what + ")");
  }
  auto find = [](const Value& dict, std::string_view key) -> detail::pickle::ValuePtr {
    for (const auto& [k, v] : dict.entries)
      if (k->kind == Value::Kind::string && k->text == key) return v;
    return nullptr;
  };
  if (root->kind != Value::Kind::dict) throw config_error(path.string() + ": checkpoint is not a dict");

  detail::pickle::ValuePtr dict;
  if (!options.entry.empty()) {
    dict = find(*root, options.entry);
    if (!dict) throw config_error(path.string() + ": checkpoint has no entry '" + options.entry + "'");
  } else {
    for (const char* entry : {"model_state", "model", "module", "state_dict"})
      if (auto v = find(*root, entry); v && v->kind == Value::Kind::dict) {
        dict = v;
        break;
      }
    if (!dict) dict = root;
  }
  if (dict->kind != Value::Kind::dict) throw config_error(path.string() + ": the state dict entry is not a dict");

  StateDict raw;
  for (const auto& [k, v] : dict->entries) {
    if (k->kind != Value::Kind::string || v->kind != Value::Kind::tensor)
      throw config_error(path.string() + ": state dict entry " + (k->kind == Value::Kind::string ? "'" + k->text + "'" : "?") +
                         " is not a tensor (pass CheckpointOptions::entry to pick the right dict)");
    raw.insert(k->text, v->tensor);
  }
  if (raw.is_empty()) throw config_error(path.string() + ": the state dict is empty");
  StateDict named = options.naming == KeyNaming::hugging_face ? hugging_face_to_videomae(raw) : std::move(raw);
  if (options.prefix.empty()) return named;

  StateDict out = strip_prefix(named, options.prefix);
  if (out.is_empty()) throw config_error(path.string() + ": no key starts with the prefix '" + options.prefix + "'");
  return out;
}

/// `read_checkpoint` then `load_state_dict`; errors name `path`.
inline void load_checkpoint(torch::nn::Module& module, const std::filesystem::path& path, const CheckpointOptions& options = {}) {
  load_state_dict(module, read_checkpoint(path, options), path.string());
}

/// Writes `state` as Python's `torch.save(state_dict, path)` would (an `OrderedDict` of tensors).
inline void save_state_dict(const StateDict& state, const std::filesystem::path& path) {
  std::vector<std::pair<std::string, at::Tensor>> entries;
  for (const auto& item : state) entries.emplace_back(item.key(), item.value());
  try {
    detail::pickle::save(entries, path.string());
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw config_error(path.string() + ": cannot write checkpoint (" + what.substr(0, what.find('\n')) + ")");
  }
}

/// Writes `module`'s state dict; Python reads it with `torch.load(path)` and `load_state_dict`.
inline void save_state_dict(const torch::nn::Module& module, const std::filesystem::path& path) { save_state_dict(state_dict(module), path); }

}  // namespace longform

LONGFORM_REFLECT(longform::CheckpointOptions, entry, prefix, naming);
