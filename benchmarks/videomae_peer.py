#!/usr/bin/env python3
"""VideoMAE's loss on the built-in streams, longform next to transformers' VideoMAEForPreTraining.

Runs `bench_recorded_pretrain --method videomae` (longform's Pretrainer with VideoMAE, ViT-Tiny/8) and trains the peer in
lockstep on the very batches, masks and learning rates it reports: same architecture sizes, same
AdamW settings, 1 thread each. Prints the mean loss of every window of steps for both, and the
level of predicting zeros (the per-tube normalised targets' mean square) on the same batches.

usage: videomae_peer.py BENCH [--steps 600] [--seed 0] [--lr 1e-3] [--mask-ratio 0.5] [--window 100]
"""
import argparse
import json
import subprocess
import sys

import numpy as np
import torch
from transformers import VideoMAEConfig, VideoMAEForPreTraining

BATCH, CHANNELS, FRAMES, SIZE, TUBELET, PATCH = 8, 3, 8, 32, 2, 8
TOKENS = (FRAMES // TUBELET) * (SIZE // PATCH) ** 2


def peer_model():
    """The peer at longform's `vit_tiny()` sizes with its decoder (`videomae_decoder_s()`)."""
    config = VideoMAEConfig(image_size=SIZE, patch_size=PATCH, num_channels=CHANNELS, num_frames=FRAMES,
                            tubelet_size=TUBELET, hidden_size=192, num_hidden_layers=4, num_attention_heads=3,
                            intermediate_size=768, decoder_hidden_size=192, decoder_num_hidden_layers=4,
                            decoder_num_attention_heads=3, decoder_intermediate_size=768, norm_pix_loss=True,
                            qkv_bias=True, use_mean_pooling=False, layer_norm_eps=1e-6)
    return VideoMAEForPreTraining(config)


def read_exact(stream, n):
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bench")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--mask-ratio", type=float, default=0.5)
    p.add_argument("--window", type=int, default=100)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    bench = subprocess.Popen([a.bench, "--method", "videomae", "--steps", str(a.steps), "--seed", str(a.seed), "--lr", str(a.lr),
                              "--mask-ratio", str(a.mask_ratio), "--batch", str(BATCH)],
                             stdout=subprocess.PIPE)  # its errors go straight to stderr
    header = bench.stdout.readline()
    if not header:
        sys.exit(f"videomae_peer: {a.bench} did not start (exit status {bench.wait()})")
    settings = json.loads(header)
    model = peer_model()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(settings["beta1"], settings["beta2"]),
                            weight_decay=settings["weight_decay"])
    clip_bytes = BATCH * CHANNELS * FRAMES * SIZE * SIZE * 4
    ours, theirs, zero = [], [], []
    for step in range(a.steps):
        try:
            clips = np.frombuffer(read_exact(bench.stdout, clip_bytes), np.float32)
            mask = np.frombuffer(read_exact(bench.stdout, BATCH * TOKENS), np.uint8)
            lr, loss = np.frombuffer(read_exact(bench.stdout, 16), np.float64)
        except EOFError:
            sys.exit(f"videomae_peer: {a.bench} stopped at step {step} (exit status {bench.wait()})")
        x = torch.from_numpy(clips.copy()).view(BATCH, CHANNELS, FRAMES, SIZE, SIZE).transpose(1, 2)  # peer: B T C H W
        masked = torch.from_numpy(mask.copy()).view(BATCH, TOKENS).bool()
        for group in opt.param_groups:
            group["lr"] = float(lr)
        out = model(x, bool_masked_pos=masked)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        ours.append(float(loss))
        theirs.append(out.loss.item())
        # Predicting zeros: the mean square of the normalised targets of the masked tubes.
        tubes = x.transpose(1, 2).reshape(BATCH, CHANNELS, FRAMES // TUBELET, TUBELET, SIZE // PATCH, PATCH,
                                          SIZE // PATCH, PATCH).permute(0, 2, 4, 6, 3, 5, 7, 1)
        tubes = tubes.reshape(BATCH, TOKENS, TUBELET * PATCH * PATCH, CHANNELS)
        norm = (tubes - tubes.mean(2, keepdim=True)) / (tubes.var(2, unbiased=True, keepdim=True).sqrt() + 1e-6)
        zero.append(norm[masked].pow(2).mean().item())
    bench.wait()
    print(json.dumps({"settings": settings, "peer": "transformers.VideoMAEForPreTraining"}))
    print(f"| steps | longform | transformers | ratio | predict-zero level |")
    print("|---|---|---|---|---|")
    for start in range(0, a.steps, a.window):
        w = slice(start, start + a.window)
        l, t, z = np.mean(ours[w]), np.mean(theirs[w]), np.mean(zero[w])
        print(f"| {start + 1}–{min(start + a.window, a.steps)} | {l:.4f} | {t:.4f} | {l / t:.3f} | {z:.4f} |")


if __name__ == "__main__":
    main()
