#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""MoCo on the built-in streams, longform next to a MoCo v2 written in PyTorch, on the same inputs.

For each seed, runs `bench_recorded_pretrain --method moco` (longform's Pretrainer with MoCo over an
X3D-Tiny, scripts/study's settings: 300 steps of 8 sequential clips, 8 frames at stride 2, 32²,
queue 512, learning rate 1e-3 held after a 10-step warmup, AdamW) and trains the peer in lockstep
on the very query and key views (longform's augmentations) and learning rates it reports: the MoCo
loop of benchmarks/pretrain_peer.py over pytorchvideo's `create_x3d` at X3D-Tiny's sizes, the same
head, queue, momentum, temperature, shuffle-BN groups and AdamW settings, 1 thread each. Then the
built-in linear probe (`longform finetune`, as scripts/study evaluates) judges four encoders of each
seed: longform's random init, longform's pre-trained one, the peer's random init and the peer's
pre-trained one. Prints the mean loss per window of steps for both and each encoder's top-1, then
each side's gain over its own random init paired by seed, mean ± 95 % interval.

usage: moco_peer.py BENCH LONGFORM OUT [--steps 300] [--seeds 0 1 2] [--window 50]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import scipy.stats
import torch

from pretrain_peer import MoCo, x3d_features

CHANNELS, FRAMES, SIZE = 3, 8, 32


def read_exact(stream, n):
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def save_encoder(encoder, path):
    """The encoder's state dict as longform's X3D-Tiny names it: longform keeps the 400-class
    classifier (`blocks.5.proj`) in its features mode too, unused there and by the probe."""
    state = encoder.state_dict()
    state.update({f"blocks.5.proj.{k}": v for k, v in torch.nn.Linear(512, 400).state_dict().items()})
    torch.save(state, path)


def lockstep(bench, steps, seed, out):
    """Trains both sides on seed `seed`'s stream; returns the per-step losses (longform, peer)."""
    longform_pt, peer_init_pt, peer_pt = (os.path.join(out, f"{name}-{seed}.pt") for name in ("longform", "peer-init", "peer"))
    proc = subprocess.Popen([bench, "--method", "moco", "--steps", str(steps), "--seed", str(seed), "--lr", "1e-3",
                             "--min-lr", "1e-3", "--warmup", "10", "--save", longform_pt],
                            stdout=subprocess.PIPE)  # its errors go straight to stderr
    header = proc.stdout.readline()
    if not header:
        sys.exit(f"moco_peer: {bench} did not start (exit status {proc.wait()})")
    s = json.loads(header)
    torch.manual_seed(seed)
    model = MoCo(x3d_features(FRAMES, SIZE, width_factor=1.0, depth_factor=1.0, head_dim_out=512), 512,
                 queue=s["queue_size"]).train()
    save_encoder(model.encoder_q, peer_init_pt)
    params = list(model.encoder_q.parameters()) + list(model.head_q.parameters())
    opt = torch.optim.AdamW(params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), weight_decay=s["weight_decay"])
    batch = s["batch"]
    view_bytes = batch * CHANNELS * FRAMES * SIZE * SIZE * 4
    ours, theirs = [], []
    for step in range(steps):
        try:
            v1, v2 = (torch.from_numpy(np.frombuffer(read_exact(proc.stdout, view_bytes), np.float32).copy())
                      .view(batch, CHANNELS, FRAMES, SIZE, SIZE) for _ in range(2))
            lr, loss = np.frombuffer(read_exact(proc.stdout, 16), np.float64)
        except EOFError:
            sys.exit(f"moco_peer: {bench} stopped at step {step} (exit status {proc.wait()})")
        for group in opt.param_groups:
            group["lr"] = float(lr)
        peer_loss = model.loss_of_views(v1, v2)
        opt.zero_grad()
        peer_loss.backward()
        opt.step()
        model.after_step()
        ours.append(float(loss))
        theirs.append(peer_loss.item())
    if proc.wait() != 0:
        sys.exit(f"moco_peer: {bench} failed (exit status {proc.returncode})")
    save_encoder(model.encoder_q, peer_pt)
    return ours, theirs, {"longform": longform_pt, "peer init": peer_init_pt, "peer": peer_pt}


def probe(cli, weights, seed, out):
    """Top-1 (%) of the built-in linear probe on `weights` (None: longform's random init)."""
    result = os.path.join(out, f"probe-{os.path.basename(weights or f'random-{seed}.pt')}.json")
    cmd = [cli, "finetune", "--dataset", "synthetic", "--protocol", "linear", "--arch", "x3d_tiny", "--frames", str(FRAMES),
           "--size", str(SIZE), "--stride", "2", "--clips", "1", "--threads", "2", "--seed", str(seed), "--out", result]
    subprocess.run(cmd + (["--weights", weights] if weights else []), check=True, stdout=subprocess.DEVNULL)
    with open(result) as f:
        return 100 * json.load(f)["top1"]


def interval(values):
    """Mean and half-width of the 95 % t interval."""
    v = np.asarray(values, float)
    return v.mean(), scipy.stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bench")
    p.add_argument("longform")
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--window", type=int, default=50)
    a = p.parse_args()
    if len(a.seeds) < 2:
        p.error("--seeds: at least 2, for an interval")
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    top1 = {}
    for seed in a.seeds:
        ours, theirs, weights = lockstep(a.bench, a.steps, seed, a.out)
        print(f"seed {seed}: mean InfoNCE loss per {a.window} steps, longform / peer")
        print("| steps | longform | peer | ratio |")
        print("|---|---|---|---|")
        for start in range(0, a.steps, a.window):
            w = slice(start, start + a.window)
            l, t = np.mean(ours[w]), np.mean(theirs[w])
            print(f"| {start + 1}–{min(start + a.window, a.steps)} | {l:.4f} | {t:.4f} | {l / t:.3f} |", flush=True)
        top1[seed] = {"longform init": probe(a.longform, None, seed, a.out)}
        top1[seed].update({name: probe(a.longform, path, seed, a.out) for name, path in weights.items()})
        print(f"seed {seed}: linear top-1 (%) " + json.dumps(top1[seed]), flush=True)
    print(f"\nlinear top-1 over seeds {a.seeds} (%, mean ± 95 % interval; gains paired by seed, points):")
    for name in ("longform init", "longform", "peer init", "peer"):
        m, h = interval([top1[s][name] for s in a.seeds])
        print(f"  {name:14} {m:5.1f} ± {h:.1f}   per seed {' '.join(f'{top1[s][name]:.1f}' for s in a.seeds)}")
    for side, init in (("longform", "longform init"), ("peer", "peer init")):
        m, h = interval([top1[s][side] - top1[s][init] for s in a.seeds])
        print(f"  {side} gain over its random init: {m:+.1f} ± {h:.1f}")
    m, h = interval([top1[s]["longform"] - top1[s]["peer"] for s in a.seeds])
    print(f"  longform − peer (pre-trained): {m:+.1f} ± {h:.1f}")


if __name__ == "__main__":
    main()
