#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Backbone speed, longform (C++) vs the Python reference models, on CPU with the same threads.

X3D: pytorchvideo's create_x3d; ViT-S: transformers' VideoMAEModel (SDPA attention). Both sides
time forward under inference mode and forward+backward (a training step without the optimizer)
on one random clip, median of ITERS after one warm-up. Also reports, for X3D, the share of the
forward spent in the depthwise 3x3x3 convolutions (module hooks), in both memory layouts.

usage: backbone.py BENCH_BINARY [--threads N] [--iters N]
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
import types

import torch
from transformers import VideoMAEConfig, VideoMAEModel

if "torchvision" not in sys.modules:  # pytorchvideo 0.1.5 imports torchvision.ops at import time only
    try:
        import torchvision  # noqa: F401
    except ImportError:
        tv = types.ModuleType("torchvision")
        tv.ops = types.ModuleType("torchvision.ops")
        tv.ops.RoIAlign = object
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, tv.ops
from pytorchvideo.models.x3d import create_x3d  # noqa: E402

CASES = [("x3d_s", 13, 160), ("x3d_m", 16, 224), ("vit_s", 16, 112)]


def median_ms(iters, f):
    f()
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def python_model(name, frames, size):
    if name.startswith("x3d"):
        m = create_x3d(input_clip_length=frames, input_crop_size=size, head_activation=None)
        return m, lambda x: m(x)
    cfg = VideoMAEConfig(image_size=size, num_frames=frames, hidden_size=384, num_hidden_layers=12,
                         num_attention_heads=6, intermediate_size=1536, layer_norm_eps=1e-6, qkv_bias=True,
                         use_mean_pooling=False, attn_implementation="sdpa")
    m = VideoMAEModel(cfg)
    return m, lambda x: m(x.permute(0, 2, 1, 3, 4)).last_hidden_state.mean(1)


def bench_python(name, frames, size, iters, channels_last):
    torch.manual_seed(0)
    model, fwd = python_model(name, frames, size)
    x = torch.randn(1, 3, frames, size, size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    model.eval()

    def forward():
        with torch.inference_mode():
            fwd(x)

    f_ms = median_ms(iters, forward)
    model.train()

    def train():
        model.zero_grad()
        fwd(x).sum().backward()

    t_ms = median_ms(iters, train)
    share = depthwise_share(model, fwd, x) if name.startswith("x3d") else None
    return f_ms, t_ms, share


def depthwise_share(model, fwd, x):
    """Fraction of forward wall time inside depthwise Conv3d modules (groups == channels)."""
    spent = [0.0]
    starts = {}

    def pre(m, _):
        starts[m] = time.perf_counter()

    def post(m, _, __):
        spent[0] += time.perf_counter() - starts[m]

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv3d) and m.groups > 1 and m.groups == m.in_channels:
            hooks += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    model.eval()
    with torch.inference_mode():
        fwd(x)
        spent[0] = 0.0
        t0 = time.perf_counter()
        fwd(x)
        total = time.perf_counter() - t0
    for h in hooks:
        h.remove()
    return spent[0] / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wanted = args.cases.split(",")
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.iters} after a warm-up, batch 1")
    print(f"{'model':7} {'input':>10} {'layout':>16} | {'fwd C++':>8} {'fwd Py':>8} {'ratio':>6} | "
          f"{'f+b C++':>8} {'f+b Py':>8} {'ratio':>6} | dw-conv share (Py fwd)")
    for name, frames, size in CASES:
        if name not in wanted:
            continue
        layouts = [False, True] if name.startswith("x3d") else [False]
        for cl in layouts:
            cmd = [args.binary, name, str(frames), str(size), str(args.iters), str(args.threads)]
            if cl:
                cmd.append("channels_last")
            cpp = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            f_py, t_py, share = bench_python(name, frames, size, args.iters, cl)
            share_s = f"{share:.0%}" if share is not None else "-"
            print(f"{name:7} {f'{frames}x{size}²':>10} {cpp['layout']:>16} | {cpp['forward_ms']:8.1f} {f_py:8.1f} "
                  f"{cpp['forward_ms'] / f_py:6.2f} | {cpp['train_ms']:8.1f} {t_py:8.1f} "
                  f"{cpp['train_ms'] / t_py:6.2f} | {share_s}", flush=True)


if __name__ == "__main__":
    main()
