#!/usr/bin/env python3
"""Clip pipeline throughput, side by side in one run, on the same video: longform vs Python peers
doing the same job — sequential clips of T frames with stride tau, back to back, each frame scaled
to short side S (at decode where the peer can), center-cropped to SxS, standardized per frame
(mean 0, std 1), as float [3, T, S, S]. Peers: PyAV + torch, torchcodec, decord (where installed).
Then peak RSS of longform for a short and a long input (memory must not grow with video length).

usage: benchmarks/pipeline.py BENCH_PIPELINE VIDEO [--threads N] [--repeats R] [--short V1 --long V2]
"""
import argparse
import json
import subprocess
import time

T, TAU, S = 16, 4, 224


def standardize_crop(frames):
    """frames: uint8 [T, H, W, 3] (short side S) -> float [3, T, S, S], each frame mean 0 std 1."""
    import torch
    x = frames.permute(3, 0, 1, 2).float()
    h, w = x.shape[-2:]
    top, left = round((h - S) / 2), round((w - S) / 2)
    x = x[..., top:top + S, left:left + S]
    std, mean = torch.std_mean(x, dim=(0, 2, 3), correction=0, keepdim=True)
    return (x - mean) / std.clamp_min(1e-6)


def scaled_size(width, height):
    return (round(width * S / height), S) if width >= height else (S, round(height * S / width))


def pyav(video, threads):
    import av
    import numpy as np
    import torch
    clips = 0
    with av.open(video) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        w, h = scaled_size(stream.codec_context.width, stream.codec_context.height)
        span, buf = T * TAU, []
        for i, frame in enumerate(container.decode(stream)):
            if (i % span) % TAU:
                continue  # decoded, not converted: as longform
            buf.append(frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="BILINEAR"))
            if len(buf) == T:
                standardize_crop(torch.from_numpy(np.stack(buf)))
                clips += 1
                buf = []
    return clips


def torchcodec(video, threads):
    from torchcodec.decoders import VideoDecoder
    from torchcodec.transforms import Resize
    probe = VideoDecoder(video)
    w, h = scaled_size(probe.metadata.width, probe.metadata.height)
    dec = VideoDecoder(video, num_ffmpeg_threads=threads, dimension_order="NHWC", transforms=[Resize((h, w))])
    n, span, clips = dec.metadata.num_frames, T * TAU, 0
    for start in range(0, n - (T - 1) * TAU, span):
        batch = dec.get_frames_in_range(start, start + (T - 1) * TAU + 1, TAU)
        standardize_crop(batch.data)
        clips += 1
    return clips


def decord(video, threads):
    import decord as dc
    import torch
    probe = dc.VideoReader(video)
    fh, fw = probe[0].shape[:2]
    w, h = scaled_size(fw, fh)
    vr = dc.VideoReader(video, width=w, height=h, num_threads=threads)
    n, span, clips = len(vr), T * TAU, 0
    for start in range(0, n - (T - 1) * TAU, span):
        frames = vr.get_batch(list(range(start, start + T * TAU, TAU))).asnumpy()
        standardize_crop(torch.from_numpy(frames))
        clips += 1
    return clips


def best_of(repeats, fn, *args):
    best, clips = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        clips = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return clips, best


def ours(binary, video, threads, repeats):
    out = subprocess.run([binary, video, "--frames", str(T), "--stride", str(TAU), "--size", str(S),
                          "--threads", str(threads), "--repeats", str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("video")
    ap.add_argument("--threads", type=int, default=2, help="cores for each contender")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--short", help="a ~1-minute video for the memory check")
    ap.add_argument("--long", help="a ~15-minute video for the memory check")
    args = ap.parse_args()

    import torch
    lf = ours(args.binary, args.video, args.threads, args.repeats)
    # Peers get the same cores: decoder threads as longform's decoder share, torch the rest.
    torch.set_num_threads(lf["intra_op_threads"])
    dthreads = lf["decoder_threads"]
    rows = [("longform", lf["clips"], lf["clips"] / lf["clips_per_s"])]
    for name, fn in (("PyAV + torch", pyav), ("torchcodec + torch", torchcodec), ("decord + torch", decord)):
        try:
            clips, sec = best_of(args.repeats, fn, args.video, dthreads)
            rows.append((name, clips, sec))
        except ImportError as e:
            print(f"({name}: not installed: {e})")
    print(f"video: {args.video}; sequential clips T={T} tau={TAU} -> float [3,{T},{S},{S}] standardized; "
          f"{args.threads} cores (decoder threads {dthreads}, torch threads {lf['intra_op_threads']}); best of {args.repeats}")
    print(f"longform: decode amplification {lf['decode_amplification']:.2f}, consumer wait {lf['consumer_wait_s']:.2f} s, "
          f"seeks {lf['seeks']}")
    print(f"{'pipeline':22} {'clips':>6} {'seconds':>8} {'clips/s':>8} {'longform / this':>16}")
    ours_rate = rows[0][1] / rows[0][2]
    for name, clips, sec in rows:
        print(f"{name:22} {clips:6d} {sec:8.2f} {clips / sec:8.2f} {ours_rate / (clips / sec):16.2f}")
    peers = [clips / sec for name, clips, sec in rows[1:]]
    if peers:
        print(f"longform / best peer: {ours_rate / max(peers):.2f}x (goal >= 1.5x)")
    if args.short and args.long:
        a = ours(args.binary, args.short, args.threads, 1)
        b = ours(args.binary, args.long, args.threads, 1)
        print(f"peak RSS: {args.short}: {a['peak_rss_mib']:.1f} MiB ({a['clips']} clips); "
              f"{args.long}: {b['peak_rss_mib']:.1f} MiB ({b['clips']} clips); "
              f"ratio {b['peak_rss_mib'] / a['peak_rss_mib']:.3f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
