#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python peer of `longform pretrain --method moco --arch x3d_xs --sampler sequential --frames 16
--stride 4 --size 112 --batch 4`: the MoCo pre-training loop a user writes in plain Python, doing
the same work per step, in one process.

Data (as longform's sequential sampler, transform and batch): PyAV decodes the video in-process,
start to end, looping when it ends; clip j holds frames j*64 + 4t, t = 0..15 (back to back, so
every 4th frame is used; a partial clip at the end is dropped and the next pass starts at frame
0). Only the used frames are converted, by swscale straight to short side 112 (bicubic, as
longform's reader); then a center crop 112, per-frame standardisation (mean 0, std 1 over C, H, W)
and batches of 4 clips. No prefetch: decode and training take turns, as in a plain loop.
PyAV at its defaults (`thread_type` SLICE, `thread_count` 0: what pytorchvideo's and torchvision's
PyAV readers use); `--pyav-threads N` sets `thread_type = "AUTO"` with N threads (0: FFmpeg's choice).

Model and step (as longform's MoCo, objective/moco.hpp, with the CLI's defaults): pytorchvideo's
create_x3d (X3D-XS widths, 16 x 112^2, pooled 2048-d features: no dropout, no classifier); MoCo v2
head 2048-2048-128; queue 4096; momentum 0.994; temperature 0.1; two views per clip (random resized
crop scale 0.2-1, colour jitter p 0.8 with random order, grey p 0.2, flip p 0.5, on pseudo-pixels
x*0.225+0.45 clamped to [0, 1], standardised again); shuffle-BN over 2 groups; AdamW (lr 1.5e-4,
betas 0.9/0.999, weight decay 0.05) with the cosine schedule over --steps; the loss and the global
gradient norm are read back every step; then momentum update and enqueue. torch at its defaults
unless --torch-threads.

Prints one JSON line: clips/s and CPU use (process CPU seconds / wall seconds) over the steady state
(steps 3..N: the first 2 are warm-up), and the same over the whole run.

usage: pretrain_peer.py VIDEO [--steps N] [--pyav-threads N] [--torch-threads N]
"""
import argparse
import copy
import json
import math
import random
import time

import av
import numpy as np
import torch
import torch.nn.functional as F

from pytorchvideo_x3d import create_x3d  # noqa: E402

T, TAU, S, B = 16, 4, 112, 4
WARMUP = 2


# --- data -------------------------------------------------------------------------------------
def clips(path, threads):
    """Endless stream of uint8 [T, S', S'', 3] clips (short side S), back to back, video looped."""
    while True:
        with av.open(path) as container:
            stream = container.streams.video[0]
            if threads is not None:
                stream.thread_type = "AUTO"
                stream.thread_count = threads
            w, h = stream.codec_context.width, stream.codec_context.height
            w, h = (round(w * S / h), S) if w >= h else (S, round(h * S / w))
            buf = []
            for i, frame in enumerate(container.decode(stream)):
                if i % TAU:
                    continue  # decoded, not converted
                buf.append(frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="BICUBIC"))
                if len(buf) == T:
                    yield torch.from_numpy(np.stack(buf))
                    buf = []


def standardize(x):
    """Per frame of [3, T, H, W]: mean 0, std 1 over (C, H, W)."""
    std, mean = torch.std_mean(x, dim=(0, 2, 3), correction=0, keepdim=True)
    return (x - mean) / std.clamp_min(1e-6)


def prepare(clip):
    """uint8 [T, H, W, 3] -> float [3, T, S, S]: center crop, standardised."""
    x = clip.permute(3, 0, 1, 2).float().div_(255)
    h, w = x.shape[-2:]
    top, left = round((h - S) / 2), round((w - S) / 2)
    return standardize(x[..., top:top + S, left:left + S])


def batches(path, threads):
    stream = clips(path, threads)
    while True:
        yield torch.stack([prepare(next(stream)) for _ in range(B)])


# --- augmentations (one draw per clip, every frame alike) ---------------------------------------
def grey(x):
    return (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)


def blend(a, b, f):
    return (a * f + b * (1 - f)).clamp_(0, 1)


def shift_hue(x, shift):
    maxc, minc = x.amax(0), x.amin(0)
    delta = maxc - minc
    sat = delta / maxc.clamp_min(1e-8)
    d = delta.clamp_min(1e-8)
    r, g, b = x[0], x[1], x[2]
    h = torch.where(maxc == r, (g - b) / d, torch.where(maxc == g, (b - r) / d + 2, (r - g) / d + 4))
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    h6 = (h / 6 + shift).remainder(1.0) * 6
    out = []
    for n in (5.0, 3.0, 1.0):  # HSV -> RGB: v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6
        k = (n + h6).remainder(6.0)
        out.append(maxc - maxc * sat * torch.minimum(k, 4 - k).clamp_(0, 1))
    return torch.stack(out).clamp_(0, 1)


def view(clip):
    """One augmented view of a standardised [3, T, S, S] clip."""
    x = (clip * 0.225 + 0.45).clamp(0, 1)
    H, W = x.shape[-2:]
    for _ in range(10):  # random resized crop, torchvision's draw
        area = H * W * random.uniform(0.2, 1.0)
        aspect = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < w <= W and 0 < h <= H:
            top, left = random.randint(0, H - h), random.randint(0, W - w)
            break
    else:
        top, left, h, w = 0, 0, H, W
    x = F.interpolate(x[..., top:top + h, left:left + w].transpose(0, 1), size=(S, S), mode="bilinear",
                      align_corners=False, antialias=h > S or w > S).transpose(0, 1)
    if random.random() < 0.8:  # colour jitter, factors in random order
        ops = [0, 1, 2, 3]
        random.shuffle(ops)
        fb, fc, fs, fh = (random.uniform(0.6, 1.4), random.uniform(0.6, 1.4), random.uniform(0.6, 1.4),
                          random.uniform(-0.1, 0.1))
        for op in ops:
            if op == 0:
                x = (x * fb).clamp_(0, 1)
            elif op == 1:
                x = blend(x, grey(x).mean(), fc)
            elif op == 2:
                x = blend(x, grey(x), fs)
            else:
                x = shift_hue(x, fh)
    if random.random() < 0.2:
        x = grey(x).expand_as(x).contiguous()
    if random.random() < 0.5:
        x = x.flip(-1)
    return standardize(x)


# --- MoCo ---------------------------------------------------------------------------------------
def x3d_features(clip_length, crop_size, **widths):
    """pytorchvideo's X3D returning pooled features (no dropout, no classifier), as longform's
    X3DOutput::features; `widths`: create_x3d's width_factor, depth_factor, head_dim_out."""
    encoder = create_x3d(input_clip_length=clip_length, input_crop_size=crop_size, head_activation=None, **widths)
    encoder.blocks[5].dropout = None
    encoder.blocks[5].proj = None
    return encoder


class MoCo(torch.nn.Module):
    def __init__(self, encoder, features, dim=128, hidden=2048, queue=4096, momentum=0.994, temperature=0.1, bn_splits=2):
        super().__init__()
        self.m, self.t, self.splits = momentum, temperature, bn_splits
        self.encoder_q = encoder
        self.head_q = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, dim))
        self.encoder_k, self.head_k = copy.deepcopy(self.encoder_q), copy.deepcopy(self.head_q)
        for p in list(self.encoder_k.parameters()) + list(self.head_k.parameters()):
            p.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(queue, dim), dim=1))
        self.ptr = 0

    def encode(self, encoder, head, x):  # shuffle-BN groups: each BatchNorm sees one group
        return F.normalize(head(torch.cat([encoder(c) for c in x.chunk(self.splits)])), dim=1)

    def loss(self, x):
        return self.loss_of_views(torch.stack([view(c) for c in x]), torch.stack([view(c) for c in x]))

    def loss_of_views(self, v1, v2):
        """InfoNCE of query views `v1` against key views `v2` and the queue."""
        q = self.encode(self.encoder_q, self.head_q, v1)
        with torch.no_grad():
            perm = torch.randperm(len(v2))
            k = self.encode(self.encoder_k, self.head_k, v2[perm])[torch.argsort(perm)]
        self.keys = k
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.t()], 1) / self.t
        return F.cross_entropy(logits, torch.zeros(len(v1), dtype=torch.long))

    @torch.no_grad()
    def after_step(self):
        for pk, pq in zip(list(self.encoder_k.parameters()) + list(self.head_k.parameters()),
                          list(self.encoder_q.parameters()) + list(self.head_q.parameters())):
            pk.mul_(self.m).add_(pq, alpha=1 - self.m)
        n = len(self.keys)
        self.queue[self.ptr:self.ptr + n] = self.keys
        self.ptr = (self.ptr + n) % len(self.queue)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--steps", type=int, default=14)
    ap.add_argument("--pyav-threads", type=int, default=None, help="thread_type AUTO with N threads (default: PyAV's defaults)")
    ap.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = ap.parse_args()
    if args.steps <= WARMUP:
        ap.error(f"--steps must exceed the {WARMUP} warm-up steps")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    random.seed(0)
    started, cpu_started = time.perf_counter(), time.process_time()
    model = MoCo(x3d_features(T, S), 2048).train()
    params = list(model.encoder_q.parameters()) + list(model.head_q.parameters())
    lr = 1.5e-4
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=0.05)
    data = batches(args.video, args.pyav_threads)
    marks = []  # (wall, cpu) at the end of each step
    for step in range(1, args.steps + 1):
        x = next(data)
        for g in opt.param_groups:
            g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (step - 1) / args.steps))
        opt.zero_grad()
        loss = model.loss(x)
        loss.backward()
        grad_norm = torch.stack([p.grad.norm() for p in params if p.grad is not None]).norm()
        loss_v, grad_norm_v = loss.item(), grad_norm.item()
        if not (math.isfinite(loss_v) and math.isfinite(grad_norm_v)):
            raise SystemExit(f"step {step}: loss {loss_v}, grad norm {grad_norm_v}")
        opt.step()
        model.after_step()
        marks.append((time.perf_counter(), time.process_time()))
    (w0, c0), (w1, c1) = marks[WARMUP - 1], marks[-1]
    print(json.dumps({
        "side": "python", "steps": args.steps, "warmup_steps": WARMUP, "batch": B,
        "clips_per_s": (args.steps - WARMUP) * B / (w1 - w0), "cpu_use": (c1 - c0) / (w1 - w0),
        "step_s": (w1 - w0) / (args.steps - WARMUP), "loss": loss_v,
        "run_clips_per_s": args.steps * B / (w1 - started), "run_cpu_use": (c1 - cpu_started) / (w1 - started),
        "torch_threads": torch.get_num_threads(), "pyav_threads": args.pyav_threads,
        "torch": torch.__version__, "av": av.__version__}))


if __name__ == "__main__":
    main()
