#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python's side of the checkpoint tests (tests/train/checkpoint.cpp): reads what the C++ code wrote
with Python's own loaders and checks it against upstream models. Exit 0: every check held;
1: a check failed (the reason on stderr); 77: an optional upstream package is missing (skip).

  state  CKPT EXPECT            torch.load(CKPT, weights_only=True) is a plain dict in format 2 whose
                                'model' equals EXPECT (the C++ module's state dict, torch.save'd)
  x3d    EXPORT IO FRAMES CROP  pytorchvideo's create_x3d loads EXPORT strictly and, on IO's 'input',
                                gives IO's 'logits' (the C++ X3D's) within 1e-5
  videomae EXPORT IO FRAMES SIZE PATCH DIM DEPTH HEADS
                                transformers' VideoMAEModel loads EXPORT strictly and, on IO's
                                'input', gives IO's 'tokens' (the C++ VideoViT's) within 1e-5
"""
import os
import sys

import torch

torch.set_num_threads(1)


def fail(message):
    print("check_checkpoint: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def load(path):
    # weights_only=True is the point: only dicts, lists, numbers, strings and tensors come back.
    return torch.load(path, weights_only=True, map_location="cpu")


def state(ckpt, expect):
    c = load(ckpt)
    check(type(c) is dict, f"the checkpoint is a {type(c).__name__}, not a dict")
    keys = {"format", "step", "options", "sampler", "rng", "ranks", "model", "optimizer"}
    check(set(c) == keys, f"keys {sorted(c)} != {sorted(keys)}")
    check(c["format"] == "longform.training_checkpoint/2", f"format {c['format']!r}")
    check(isinstance(c["step"], int) and c["step"] > 0, f"step {c['step']!r}")
    check(isinstance(c["options"], str) and c["options"].startswith("{"), "options is not JSON text")
    check(isinstance(c["sampler"]["kind"], str) and all(isinstance(v, int) for v in c["sampler"]["values"]), "sampler")
    check(c["rng"]["cpu"].dtype == torch.uint8 and c["rng"]["cpu"].dim() == 1, "rng.cpu is not a uint8 vector")
    check(c["ranks"] == [], "ranks of a single-process run")
    want = load(expect)
    check(list(c["model"]) == list(want), "model keys or their order differ from the module's state dict")
    for k, v in want.items():
        check(c["model"][k].dtype == v.dtype and torch.equal(c["model"][k], v), f"model[{k!r}] differs")
    opt = c["optimizer"]
    check(set(opt) - {"orthogonal"} == {"type", "state", "param_groups"}, f"optimizer keys {sorted(opt)}")
    n = sum(len(g["params"]) for g in opt["param_groups"])
    check([i for g in opt["param_groups"] for i in g["params"]] == list(range(n)), "param indices")
    check(len(opt["state"]) > 0 and all(isinstance(i, int) and 0 <= i < n for i in opt["state"]), "state keys")
    if opt["type"] in ("Adam", "AdamW"):
        for s in opt["state"].values():
            check(isinstance(s["step"], int) and s["exp_avg"].shape == s["exp_avg_sq"].shape, "Adam state")
        g = opt["param_groups"][0]
        check(isinstance(g["lr"], float) and len(g["betas"]) == 2 and isinstance(g["amsgrad"], bool), "Adam group")
    elif opt["type"] == "RMSprop":
        for s in opt["state"].values():
            check(isinstance(s["step"], int) and s["square_avg"].dim() >= 1, "RMSprop state")
        g = opt["param_groups"][0]
        check(isinstance(g["alpha"], float) and g["momentum"] == 0.0 and isinstance(g["centered"], bool), "RMSprop group")
    else:
        check(opt["type"] == "SGD" and all("momentum_buffer" in s for s in opt["state"].values()), "SGD state")
    if "orthogonal" in opt:
        o = opt["orthogonal"]
        check(isinstance(o["beta"], float) and all(isinstance(v, int) for v in o["videos"]), "orthogonal beta, videos")
        check(set(o["averages"]) == set(opt["state"]), "orthogonal averages: one per parameter with state")
        for i, average in o["averages"].items():
            moment = next(t for t in opt["state"][i].values() if isinstance(t, torch.Tensor))
            check(average.shape == moment.shape, f"orthogonal average {i} is not of its parameter's shape")
    print(f"check_checkpoint: state OK: step {c['step']}, {len(c['model'])} model tensors, "
          f"{opt['type']} with state for {len(opt['state'])} of {n} parameters")


def x3d(export, io, frames, crop):
    # pytorchvideo's X3D, with a torchvision stub where the wheel has none.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))
    from pytorchvideo_x3d import create_x3d

    sd = load(export)
    ref = load(io)
    num_classes = sd["blocks.5.proj.weight"].shape[0]
    model = create_x3d(input_clip_length=frames, input_crop_size=crop, model_num_class=num_classes,
                       head_activation=None).eval()
    model.load_state_dict(sd, strict=True)
    with torch.no_grad():
        logits = model(ref["input"])
    diff = (logits - ref["logits"]).abs().max().item()
    check(logits.shape == ref["logits"].shape, f"logits shape {tuple(logits.shape)} vs {tuple(ref['logits'].shape)}")
    check(diff <= 1e-5, f"PyTorchVideo's logits differ from the C++ model's by {diff:.3g} (> 1e-5)")
    print(f"check_checkpoint: x3d OK: {len(sd)} tensors loaded strictly, logits {tuple(logits.shape)}, "
          f"max |difference| {diff:.3g}")


def videomae(export, io, frames, size, patch, dim, depth, heads):
    try:
        from transformers import VideoMAEConfig, VideoMAEModel
    except ImportError:
        print("check_checkpoint: transformers is not installed: VideoMAE check skipped", file=sys.stderr)
        sys.exit(77)
    sd = load(export)
    ref = load(io)
    config = VideoMAEConfig(image_size=size, patch_size=patch, num_channels=3, num_frames=frames, tubelet_size=2,
                            hidden_size=dim, num_hidden_layers=depth, num_attention_heads=heads,
                            intermediate_size=4 * dim, hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True,
                            use_mean_pooling=False, attn_implementation="eager")
    model = VideoMAEModel(config).eval()
    model.load_state_dict(sd, strict=True)
    with torch.no_grad():
        # transformers takes [N, T, C, H, W]; the C++ model [N, C, T, H, W].
        tokens = model(pixel_values=ref["input"].permute(0, 2, 1, 3, 4)).last_hidden_state
    check(tokens.shape == ref["tokens"].shape, f"tokens shape {tuple(tokens.shape)} vs {tuple(ref['tokens'].shape)}")
    diff = (tokens - ref["tokens"]).abs().max().item()
    check(diff <= 1e-5, f"transformers' VideoMAE output differs from the C++ model's by {diff:.3g} (> 1e-5)")
    print(f"check_checkpoint: videomae OK: {len(sd)} tensors loaded strictly, tokens {tuple(tokens.shape)}, "
          f"max |difference| {diff:.3g}")


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "state":
        state(*args)
    elif what == "x3d":
        x3d(args[0], args[1], int(args[2]), int(args[3]))
    elif what == "videomae":
        videomae(args[0], args[1], *map(int, args[2:]))
    else:
        fail("unknown check " + what)
