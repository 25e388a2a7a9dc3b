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

#include <ATen/ops/cat.h>
#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

#include <algorithm>
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
  static std::string describe(const std::string& source, const std::vector<std::string>& missing,
                              const std::vector<std::string>& unexpected, const std::vector<std::string>& mismatched) {
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

inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
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

/// Renames a Hugging Face `VideoMAE*` state dict to MCG-NJU VideoMAE names (table in the file comment).
inline StateDict hugging_face_to_videomae(const StateDict& hf) {
  StateDict out;
  std::map<std::string, std::map<std::string, at::Tensor>> qkv;  // block prefix -> {query, key, value}
  for (const auto& item : hf) {
    std::string k = item.key();
    if (k.starts_with("embeddings.") || k.starts_with("encoder.layer.") || k.starts_with("layernorm.")) k = "videomae." + k;
    using detail::replace_all;
    replace_all(k, "videomae.embeddings.patch_embeddings.projection", "encoder.patch_embed.proj");
    replace_all(k, "videomae.encoder.layer.", "encoder.blocks.");
    replace_all(k, "decoder.decoder_layers.", "decoder.blocks.");
    replace_all(k, "videomae.layernorm", "encoder.norm");
    if (k.starts_with("fc_norm.")) k = "encoder." + k;
    if (k.starts_with("classifier.")) k = "encoder.head." + k.substr(11);
    replace_all(k, "layernorm_before", "norm1");
    replace_all(k, "layernorm_after", "norm2");
    replace_all(k, "attention.output.dense", "attn.proj");
    replace_all(k, "intermediate.dense", "mlp.fc1");
    replace_all(k, "output.dense", "mlp.fc2");
    replace_all(k, "attention.attention.q_bias", "attn.q_bias");  // older transformers releases
    replace_all(k, "attention.attention.v_bias", "attn.v_bias");
    if (auto pos = k.find("attention.attention."); pos != std::string::npos) {
      const std::string block = k.substr(0, pos);
      const std::string leaf = k.substr(pos + 20);  // "query.weight", "value.bias", ...
      if (leaf == "query.bias") {
        out.insert(block + "attn.q_bias", item.value());
      } else if (leaf == "value.bias") {
        out.insert(block + "attn.v_bias", item.value());
      } else if (leaf.ends_with(".weight")) {
        // MCG-NJU keeps one fused qkv projection: rows [q; k; v].
        auto& parts = qkv[block];
        parts[leaf.substr(0, leaf.size() - 7)] = item.value();
        if (parts.size() == 3) out.insert(block + "attn.qkv.weight", at::cat({parts["query"], parts["key"], parts["value"]}));
      } else {
        out.insert(k, item.value());  // unknown: keep it, so the strict check reports it
      }
      continue;
    }
    out.insert(k, item.value());
  }
  return out;
}

/// Renames a `VideoViT` state dict (MCG-NJU names, keys relative to the encoder) to Hugging Face
/// `transformers` names: the encoder as `VideoMAEModel` names it (`embeddings.*`, `encoder.layer.*`,
/// `layernorm.*`, the fused `qkv` split into `query`/`key`/`value`), each under `prefix` (`""` for
/// `VideoMAEModel`, `"videomae."` for `VideoMAEForVideoClassification`); a fine-tuning layout's
/// `fc_norm.*` and `head.*` become `fc_norm.*` and `classifier.*`. The inverse of
/// `hugging_face_to_videomae` (after its `encoder.` prefix).
inline StateDict videomae_to_hugging_face(const StateDict& vit, const std::string& prefix = "") {
  StateDict out;
  for (const auto& item : vit) {
    std::string k = item.key();
    if (k.starts_with("fc_norm.")) {
      out.insert(k, item.value());
      continue;
    }
    if (k.starts_with("head.")) {
      out.insert("classifier." + k.substr(5), item.value());
      continue;
    }
    using detail::replace_all;
    replace_all(k, "patch_embed.proj", "embeddings.patch_embeddings.projection");
    if (k.starts_with("blocks.")) k = "encoder.layer." + k.substr(7);
    if (k.starts_with("norm.")) k = "layernorm." + k.substr(5);
    replace_all(k, ".norm1.", ".layernorm_before.");
    replace_all(k, ".norm2.", ".layernorm_after.");
    replace_all(k, ".attn.proj.", ".attention.output.dense.");
    replace_all(k, ".mlp.fc1.", ".intermediate.dense.");
    replace_all(k, ".mlp.fc2.", ".output.dense.");
    if (k.ends_with(".attn.q_bias")) {
      out.insert(prefix + k.substr(0, k.size() - 11) + "attention.attention.query.bias", item.value());
    } else if (k.ends_with(".attn.v_bias")) {
      out.insert(prefix + k.substr(0, k.size() - 11) + "attention.attention.value.bias", item.value());
    } else if (k.ends_with(".attn.qkv.weight")) {
      const std::string block = prefix + k.substr(0, k.size() - 15) + "attention.attention.";
      const auto parts = item.value().chunk(3, 0);  // rows [q; k; v]
      out.insert(block + "query.weight", parts[0]);
      out.insert(block + "key.weight", parts[1]);
      out.insert(block + "value.weight", parts[2]);
    } else {
      out.insert(prefix + k, item.value());
    }
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
      mismatched.push_back(t.key() + ": checkpoint " + detail::shape_string(s->sizes()) + " vs model " +
                           detail::shape_string(t.value().sizes()));
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
  if (out.is_empty())
    throw config_error(path.string() + ": no key starts with the prefix '" + options.prefix + "'");
  return out;
}

/// `read_checkpoint` then `load_state_dict`; errors name `path`.
inline void load_checkpoint(torch::nn::Module& module, const std::filesystem::path& path,
                            const CheckpointOptions& options = {}) {
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
inline void save_state_dict(const torch::nn::Module& module, const std::filesystem::path& path) {
  save_state_dict(state_dict(module), path);
}

}  // namespace longform
