#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerates the golden files of the backbone tests (tests/backbone/*.cpp).

The references are the upstream implementations, used only here:
  * X3D:      PyPI `pytorchvideo` (`pytorchvideo.models.x3d.create_x3d`)
  * VideoMAE: PyPI `transformers` (`VideoMAEForPreTraining`), whose weights the C++ side loads
              through the Hugging Face -> MCG-NJU name mapping (`longform::KeyNaming::hugging_face`).

Each model is built with a fixed seed at a tiny size (the real widths would make the committed
files tens of MB), its weights, an input and its eval-mode outputs are saved with `torch.save`.
Full-size models are only described (key names, shapes, parameter counts, multiply-adds), not saved.

Byte-for-byte reproducible for the package versions recorded in golden/versions.json: run
    python3 tests/reference/make_backbone_golden.py [OUT_DIR]
and `git diff` shows nothing. pip: torch pytorchvideo==0.1.5 transformers numpy.
"""
import io
import json
import os
import struct
import sys
import zipfile
import zlib
from importlib import metadata

import torch
from torch.utils.flop_counter import FlopCounterMode
# transformers probes for torchvision with importlib, so import it before the stub below exists.
from transformers import VideoMAEConfig, VideoMAEForPreTraining

# pytorchvideo's X3D, with a torchvision stub where the wheel has none (benchmarks/pytorchvideo_x3d.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))
from pytorchvideo_x3d import create_x3d  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
os.makedirs(OUT, exist_ok=True)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def save(obj, name):
    """torch.save, made reproducible: the zip has no timestamps, but its `.data/serialization_id`
    record is random per call. Overwrite it (same length) with zeros and fix the two CRC copies."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        record = next(n for n in z.namelist() if n.endswith(".data/serialization_id"))
        old = z.read(record)
    new = b"0" * len(old)
    old_crc, new_crc = (struct.pack("<I", zlib.crc32(b)) for b in (old, new))
    assert data.count(old) == 1 and data.count(old_crc) == 2, "unexpected torch.save layout"
    data = data.replace(old, new).replace(old_crc, new_crc)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def macs(model, *inputs):
    """Multiply-adds of one forward pass: FlopCounterMode counts 2 FLOPs per multiply-add."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() // 2


def describe(model):
    sd = model.state_dict()
    return {
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "num_entries": len(sd),
        "keys": [[k, list(v.shape)] for k, v in sd.items()],
    }


def randomize_norms(model, generator):
    """Give every BatchNorm non-trivial statistics and affine terms, so eval mode is really tested."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))


summary = {}

# --- X3D: full-size descriptions --------------------------------------------------------------
hub = {"x3d_xs": (4, 160, 2.2), "x3d_s": (13, 160, 2.2), "x3d_m": (16, 224, 2.2), "x3d_l": (16, 312, 5.0)}
for name, (frames, crop, depth) in hub.items():
    torch.manual_seed(0)
    # head_activation=None: the current upstream default (0.1.5 on PyPI still defaults to Softmax).
    m = create_x3d(input_clip_length=frames, input_crop_size=crop, depth_factor=depth, head_activation=None).eval()
    d = describe(m)
    d["frames"], d["crop_size"] = frames, crop
    d["macs"] = macs(m, torch.zeros(1, 3, frames, crop, crop))
    if name not in ("x3d_m", "x3d_l"):
        del d["keys"]  # XS and S share M's keys and shapes
    summary[name] = d

# --- X3D: a tiny model with weights, input, outputs -------------------------------------------
# width 1.0 and depth 1.0 keep every structural feature (SE on even blocks, the stride-2 shortcut
# without BatchNorm in stage 1, the fixed head pool) at ~1/10 of the size.
torch.manual_seed(1)
tiny_cfg = dict(input_clip_length=4, input_crop_size=48, model_num_class=10, width_factor=1.0, depth_factor=1.0,
                head_dim_out=128, head_activation=None)
tiny = create_x3d(**tiny_cfg)
g = torch.Generator().manual_seed(2)
randomize_norms(tiny, g)
tiny.eval()
x = torch.randn(2, 3, 4, 48, 48, generator=g)
x_big = torch.randn(1, 3, 4, 80, 80, generator=g)  # larger than built for: the head pool is not adaptive
with torch.no_grad():
    logits = tiny(x)
    logits_big = tiny(x_big)
    trunk = x
    for b in tiny.blocks[:-1]:
        trunk = b(trunk)
    features = tiny.blocks[-1].pool(trunk).mean((2, 3, 4))
save({"model_state": tiny.state_dict(), "epoch": 7, "note": "pytorchvideo checkpoint layout"}, "x3d_tiny.pyth")
save({"input": x, "input_big": x_big, "logits": logits, "logits_big": logits_big, "features": features},
     "x3d_tiny_io.pt")
summary["x3d_tiny"] = {k: v for k, v in tiny_cfg.items() if k != "head_activation"}
summary["x3d_tiny"].update(describe(tiny))
summary["x3d_tiny"]["macs"] = macs(tiny, x[:1])

# --- VideoMAE ----------------------------------------------------------------------------------
# Hugging Face -> MCG-NJU names, the table `KeyNaming::hugging_face` implements in C++. Written out
# again here so the committed key lists do not depend on the C++ code under test.
def mcg_names(hf_sd):
    out = {}
    pending = {}
    for k, v in hf_sd.items():
        n = k.replace("videomae.embeddings.patch_embeddings.projection", "encoder.patch_embed.proj")
        n = n.replace("videomae.encoder.layer.", "encoder.blocks.").replace("decoder.decoder_layers.", "decoder.blocks.")
        n = n.replace("videomae.layernorm", "encoder.norm").replace("fc_norm", "encoder.fc_norm")
        n = n.replace("classifier", "encoder.head")
        n = n.replace("layernorm_before", "norm1").replace("layernorm_after", "norm2")
        n = n.replace("attention.output.dense", "attn.proj")
        n = n.replace("intermediate.dense", "mlp.fc1").replace("output.dense", "mlp.fc2")
        for part in ("query", "key", "value"):
            tag = f"attention.attention.{part}."
            if tag in n:
                block, leaf = n.split(tag)
                if leaf == "weight":
                    pending.setdefault(block, {})[part] = v
                    n = None
                else:
                    n = block + ("attn.q_bias" if part == "query" else "attn.v_bias")
                break
        if n is None:
            parts = pending[block]
            if len(parts) == 3:
                out[block + "attn.qkv.weight"] = torch.cat([parts["query"], parts["key"], parts["value"]])
            continue
        out[n] = v
    # MCG-NJU's module order inside a block: norm1, attn (q_bias, v_bias, qkv, proj), norm2, mlp.
    return out


def mcg_describe(model):
    sd = mcg_names(model.state_dict())
    order = {"patch_embed": 0, "blocks": 1, "norm": 2, "fc_norm": 3, "head": 4}
    leaf = {"norm1": 0, "attn.q_bias": 1, "attn.v_bias": 2, "attn.qkv": 3, "attn.proj": 4, "norm2": 5, "mlp.fc1": 6,
            "mlp.fc2": 7}

    # Python's state_dict order: a module's own parameters first (`mask_token`), then its children
    # in construction order; inside a leaf, weight before bias.
    def key(k):
        top = ["mask_token", "encoder", "decoder", "encoder_to_decoder"].index(k.split(".")[0])
        rest = k.split(".")[1:]
        wb = {"weight": 0, "bias": 1}.get(rest[-1] if rest else "", 2)
        if rest and rest[0] == "blocks":
            inner = ".".join(rest[2:-1]) if rest[-1] in ("weight", "bias") else ".".join(rest[2:])
            return (top, 1, int(rest[1]), leaf.get(inner, 9), wb)
        return (top, order.get(rest[0], 9) if rest else 0, 0, 0, wb)

    keys = sorted(sd, key=key)
    return {
        "num_parameters": sum(v.numel() for v in sd.values()),
        "num_entries": len(sd),
        "encoder_parameters": sum(v.numel() for k, v in sd.items() if k.startswith("encoder.")),
        "keys": [[k, list(sd[k].shape)] for k in keys],
    }


def videomae_config(hidden, depth, heads, dec_hidden, dec_heads, image, frames):
    return VideoMAEConfig(image_size=image, patch_size=16, num_channels=3, num_frames=frames, tubelet_size=2,
                          hidden_size=hidden, num_hidden_layers=depth, num_attention_heads=heads,
                          intermediate_size=4 * hidden, hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True,
                          use_mean_pooling=False, decoder_num_attention_heads=dec_heads,
                          decoder_hidden_size=dec_hidden, decoder_num_hidden_layers=4,
                          decoder_intermediate_size=4 * dec_hidden, norm_pix_loss=True,
                          attn_implementation="eager")


for name, (hidden, heads, dec_hidden, dec_heads) in {"vit_s": (384, 6, 192, 3), "vit_b": (768, 12, 384, 6)}.items():
    torch.manual_seed(0)
    cfg = videomae_config(hidden, 12, heads, dec_hidden, dec_heads, 224, 16)
    model = VideoMAEForPreTraining(cfg).eval()
    d = mcg_describe(model)
    # Encoder multiply-adds for an unmasked 16x224^2 clip.
    d["encoder_macs"] = macs(lambda v: model.videomae(v), torch.zeros(1, 16, 3, 224, 224))
    summary[name] = d
    del model

torch.manual_seed(3)
cfg = videomae_config(64, 2, 2, 32, 2, 32, 4)
vmae = VideoMAEForPreTraining(cfg)
g = torch.Generator().manual_seed(4)
with torch.no_grad():
    for n, p in vmae.named_parameters():
        if n.endswith(".bias") or "layernorm" in n or "norm." in n or n == "mask_token":
            p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if n.endswith("weight") else 0.0))
vmae.eval()
video = torch.randn(2, 3, 4, 32, 32, generator=g)  # longform layout [N, C, T, H, W]
# Tube mask: the same 2 of the 4 spatial positions in both temporal slices, different per sample.
spatial = torch.tensor([[1, 0, 0, 1], [0, 1, 1, 0]], dtype=torch.bool)
mask = spatial.repeat(1, 2)
with torch.no_grad():
    enc = vmae.videomae(video.permute(0, 2, 1, 3, 4), bool_masked_pos=mask).last_hidden_state
    pred = vmae(video.permute(0, 2, 1, 3, 4), bool_masked_pos=mask).logits
    enc_full = vmae.videomae(video.permute(0, 2, 1, 3, 4)).last_hidden_state
save(vmae.state_dict(), "videomae_tiny_hf.bin")
save({"input": video, "mask": mask, "encoded": enc, "encoded_full": enc_full, "predicted": pred},
     "videomae_tiny_io.pt")
summary["videomae_tiny"] = mcg_describe(vmae)
summary["videomae_tiny"]["config"] = {"hidden": 64, "depth": 2, "heads": 2, "decoder_hidden": 32,
                                      "decoder_heads": 2, "decoder_depth": 4, "image": 32, "frames": 4}

versions = {p: metadata.version(p) for p in ("torch", "pytorchvideo", "transformers", "numpy", "fvcore")}
versions["python"] = sys.version.split()[0]
summary["versions"] = versions
with open(os.path.join(OUT, "backbones.json"), "w") as f:
    json.dump(summary, f, indent=1)
    f.write("\n")
print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "keys"} for k, v in summary.items()}, indent=1))
