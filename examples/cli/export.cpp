// SPDX-License-Identifier: MIT
// `longform export --weights run/checkpoint.pt --out encoder.pt`: the pre-trained encoder of a
// training checkpoint as a plain `torch.save` state dict that Python loads as its own:
//   X3D  -> PyTorchVideo names:   create_x3d(...).load_state_dict(torch.load(OUT, weights_only=True))
//   ViT  -> Hugging Face names:   transformers.VideoMAEModel(config).load_state_dict(torch.load(OUT, weights_only=True))
//           (--naming videomae:   MCG-NJU VideoMAE's own encoder names, as `VideoViT` spells them)
// Every key of the encoder is written; strict loading works. The X3D head's classifier
// (`blocks.5.proj`) is in the file but was not trained by self-supervision (SSL uses the pooled
// features); a ViT exported from pre-training has no `fc_norm` or classifier, so a
// `VideoMAEForVideoClassification` loads it into `model.videomae` and trains those itself.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include <longform/backbone/weights.hpp>
#include <longform/core/error.hpp>
#include <longform/eval/pretrained.hpp>
#include <longform/train/checkpoint.hpp>

#include "commands.hpp"

namespace {

struct ExportArgs {
  std::string weights, out, encoder = "auto", naming = "auto";
};

void run_export(const ExportArgs& a) {
  const longform::StateDict model = longform::read_training_model(a.weights);
  longform::StateDict sd;
  std::string encoder = a.encoder;
  if (encoder == "auto") {
    for (const char* name : longform::pretrained_encoder_names) {
      sd = longform::strip_prefix(model, std::string(name) + ".");
      if (!sd.is_empty()) {
        encoder = name;
        break;
      }
    }
    if (sd.is_empty())
      throw longform::checkpoint_error(a.weights,
                                       "no encoder in this training checkpoint (none of encoder_q, student, encoder; name one with --encoder)");
  } else {
    sd = longform::strip_prefix(model, encoder + ".");
    if (sd.is_empty()) throw longform::checkpoint_error(a.weights, "the training checkpoint has no submodule '" + encoder + "'");
  }
  const bool vit = sd.contains("patch_embed.proj.weight");
  std::string naming = a.naming;
  if (naming == "auto") naming = vit ? "hf" : "pytorchvideo";
  if (!vit && naming != "pytorchvideo")
    throw longform::config_error("export: the encoder '" + encoder + "' is an X3D; its names are PyTorchVideo's (--naming pytorchvideo)");
  if (vit && naming == "pytorchvideo")
    throw longform::config_error("export: the encoder '" + encoder + "' is a ViT; name it --naming hf (transformers) or videomae (MCG-NJU)");
  if (naming == "hf") sd = longform::videomae_to_hugging_face(sd);
  longform::save_state_dict(sd, a.out);

  nlohmann::json j{{"out", a.out}, {"encoder", encoder}, {"arch", vit ? "vit" : "x3d"}, {"naming", naming}, {"tensors", sd.size()}};
  if (!vit) {
    j["python"] = "pytorchvideo.models.x3d.create_x3d(...).load_state_dict(torch.load(OUT, weights_only=True))";
    j["untrained"] = "blocks.5.proj (the classifier: self-supervision trains the pooled features)";
  } else if (naming == "hf") {
    j["python"] = "transformers.VideoMAEModel(config).load_state_dict(torch.load(OUT, weights_only=True))";
    j["absent"] = "fc_norm, classifier (VideoMAEForVideoClassification: load into model.videomae)";
  } else {
    j["python"] = "the encoder of MCG-NJU VideoMAE (modeling_finetune.VisionTransformer), strict=False for fc_norm/head";
  }
  std::printf("%s\n", j.dump().c_str());
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a training checkpoint's encoder as a torch.save state dict with PyTorchVideo or VideoMAE names");
  auto a = std::make_shared<ExportArgs>();
  cmd->add_option("--weights", a->weights, "Training checkpoint (longform pretrain's OUT/checkpoint.pt)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "The state dict to write (torch.load(OUT, weights_only=True) reads it)")->required();
  cmd->add_option("--encoder", a->encoder, "The objective's submodule: auto (encoder_q, student, encoder: the first present) or a name")
      ->capture_default_str();
  cmd->add_option("--naming", a->naming,
                  "Key names: auto (X3D: pytorchvideo; ViT: hf), pytorchvideo, hf (transformers VideoMAEModel), videomae (MCG-NJU)")
      ->check(CLI::IsMember({"auto", "pytorchvideo", "hf", "videomae"}))
      ->capture_default_str();
  cmd->callback([a] { run_export(*a); });
}
