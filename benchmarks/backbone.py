#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Backbone speed, longform (C++) vs the Python reference models, with the same threads and device.

X3D: pytorchvideo's create_x3d; ViT-S: transformers' VideoMAEModel (SDPA attention). Both sides
time forward under inference mode and forward+backward (a training step without the optimizer)
on a random batch, median of ITERS after one warm-up; each timed call ends by reading one number
back, which waits for a GPU. The two sides take turns for ROUNDS rounds and each keeps its fastest
round's median: on a shared machine a neighbour's load comes and goes, and interleaving lets both
sides meet the same quiet spells. With --side-by-side (1 thread) both sides run at the same time on
a core each, swapping cores every round, so they are timed under the same load. Also reports, for X3D on the CPU, the share of the forward spent in
the depthwise 3x3x3 convolutions (module hooks), in both memory layouts.

usage: backbone.py BENCH_BINARY [--threads N] [--iters N] [--rounds N] [--side-by-side] [--cases x3d_s,x3d_m,vit_s]
                   [--device cuda] [--bf16] [--batch N]
"""
import contextlib
import argparse
import json
import os
import statistics
import subprocess
import time

import torch
from transformers import VideoMAEConfig, VideoMAEModel

from pytorchvideo_x3d import create_x3d  # noqa: E402

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


def bench_python(name, frames, size, iters, channels_last, device="cpu", bf16=False, batch=1, share=False):
    torch.manual_seed(0)
    model, fwd = python_model(name, frames, size)
    model = model.to(device)
    x = torch.randn(batch, 3, frames, size, size).to(device)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    model.eval()

    def forward():
        with torch.inference_mode(), autocast():
            fwd(x).sum().item()

    f_ms = median_ms(iters, forward)
    model.train()
    first = next(model.parameters())

    def train():
        model.zero_grad()
        with autocast():
            y = fwd(x).sum()
        y.backward()
        first.grad.sum().item()

    t_ms = median_ms(iters, train)
    return f_ms, t_ms, depthwise_share(model, fwd, x) if share else None


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
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (cuda only)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--side-by-side", action="store_true",
                    help="run both sides at the same time, 1 thread each on its own core (needs 2 cores, cpu)")
    args = ap.parse_args()
    if args.bf16 and args.device != "cuda":
        ap.error("--bf16 needs --device cuda")
    if args.side_by_side and (args.device != "cpu" or args.threads != 1 or len(os.sched_getaffinity(0)) < 2):
        ap.error("--side-by-side needs --device cpu, --threads 1 and 2 cores")
    torch.set_num_threads(args.threads)
    wanted = args.cases.split(",")
    extra = (["cuda"] if args.device == "cuda" else []) + (["bf16"] if args.bf16 else []) + [f"batch={args.batch}"]
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{args.threads} threads"
    print(f"torch {torch.__version__}, {where}{', bf16 autocast' if args.bf16 else ''}, "
          f"fastest of {args.rounds} {'side-by-side' if args.side_by_side else 'interleaved'} rounds of a median of "
          f"{args.iters} after a warm-up, batch {args.batch}")
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
            rounds = []
            for r in range(args.rounds):
                share_wanted = r == 0 and name.startswith("x3d") and args.device == "cpu"
                if args.side_by_side:
                    # Both sides at once, one core each, swapping cores every round: whatever load a
                    # neighbour puts on the machine, both sides are timed under it.
                    cpp_core, py_core = (0, 1) if r % 2 == 0 else (1, 0)
                    cpp_run = subprocess.Popen(["taskset", "-c", str(cpp_core)] + cmd + extra, stdout=subprocess.PIPE, text=True)
                    os.sched_setaffinity(0, {py_core})
                    py = bench_python(name, frames, size, args.iters, cl, args.device, args.bf16, args.batch, share_wanted)
                    out, _ = cpp_run.communicate()
                    if cpp_run.returncode != 0:
                        raise SystemExit(f"{' '.join(cmd)} failed with {cpp_run.returncode}")
                    cpp = json.loads(out)
                else:
                    cpp = json.loads(subprocess.run(cmd + extra, check=True, capture_output=True, text=True).stdout)
                    py = bench_python(name, frames, size, args.iters, cl, args.device, args.bf16, args.batch, share_wanted)
                rounds.append((cpp, py))
            share = rounds[0][1][2]
            cpp = {"layout": rounds[0][0]["layout"], "forward_ms": min(c["forward_ms"] for c, _ in rounds),
                   "train_ms": min(c["train_ms"] for c, _ in rounds)}
            f_py, t_py = min(p[0] for _, p in rounds), min(p[1] for _, p in rounds)
            share_s = f"{share:.0%}" if share is not None else "-"
            print(f"{name:7} {f'{frames}x{size}²':>10} {cpp['layout']:>16} | {cpp['forward_ms']:8.1f} {f_py:8.1f} "
                  f"{cpp['forward_ms'] / f_py:6.2f} | {cpp['train_ms']:8.1f} {t_py:8.1f} "
                  f"{cpp['train_ms'] / t_py:6.2f} | {share_s}", flush=True)


if __name__ == "__main__":
    main()
