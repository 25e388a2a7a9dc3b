#!/usr/bin/env python3
"""Clip pipeline throughput, side by side in one run, on the same video: longform vs Python peers
doing the same job — sequential clips of T frames with stride tau, back to back, each frame scaled
to short side S (at decode where the peer can), center-cropped to SxS, standardized per frame
(mean 0, std 1), as float [3, T, S, S]. Peers: PyAV + torch, torchcodec, decord (where installed).
Then peak RSS of longform for a short and a long input (memory must not grow with video length).

Headline: each side at its defaults; then equal-thread rows as explanation. Rounds are interleaved and
medians reported (this machine's speed drifts).

usage: benchmarks/pipeline.py BENCH_PIPELINE VIDEO [--threads N] [--rounds R] [--short V1 --long V2]
"""
import argparse
import json
import os
import statistics
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


def pyav(video, threads=None):
    """threads=None: PyAV at its defaults (the codec's own threading); else frame threads = threads."""
    import av
    import numpy as np
    import torch
    clips = 0
    with av.open(video) as container:
        stream = container.streams.video[0]
        if threads is not None:
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


def timed(fn, *args):
    t0 = time.perf_counter()
    clips = fn(*args)
    return clips, time.perf_counter() - t0


def ours(binary, video, *flags):
    out = subprocess.run([binary, video, "--frames", str(T), "--stride", str(TAU), "--size", str(S), "--repeats", "1", *flags],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("video")
    ap.add_argument("--threads", type=int, default=2, help="cores for the equal-thread comparisons")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are reported")
    ap.add_argument("--short", help="a ~1-minute video for the memory check")
    ap.add_argument("--long", help="a ~15-minute video for the memory check")
    args = ap.parse_args()

    import torch
    n = args.threads
    default_torch_threads = torch.get_num_threads()

    def torch_threads(k):
        def run(fn, *a):
            torch.set_num_threads(k)
            try:
                return timed(fn, *a)
            finally:
                torch.set_num_threads(default_torch_threads)
        return run

    def longform(*flags):
        def run():
            r = ours(args.binary, args.video, *flags)
            return r["clips"], r["seconds"], r
        return run

    # Each contender: a name and a callable giving (clips, seconds[, longform's JSON]).
    contenders = [
        ("longform, defaults", longform()),
        ("PyAV + torch, defaults", lambda: timed(pyav, args.video, None)),
        (f"longform, W=1, 1 decoder thread", longform("--threads", str(n), "--workers", "1", "--decoder-threads", "1")),
        (f"longform, W={n}, 1 decoder thread each", longform("--threads", str(n), "--workers", str(n), "--decoder-threads", "1")),
        (f"longform, W=1, {n} frame threads", longform("--threads", str(n), "--workers", "1", "--decoder-threads", str(n))),
        (f"PyAV + torch, {n} frame threads, {n} torch", lambda: torch_threads(n)(pyav, args.video, n)),
        ("PyAV + torch, 1 frame thread, 1 torch", lambda: torch_threads(1)(pyav, args.video, 1)),
    ]
    for name, fn in (("torchcodec + torch", torchcodec), ("decord + torch", decord)):
        try:
            __import__(name.split()[0])
            contenders.append((f"{name}, {n} threads", lambda fn=fn: torch_threads(n)(fn, args.video, n)))
        except ImportError as e:
            print(f"({name}: not installed: {e})")

    rates = {name: [] for name, _ in contenders}
    info = {}
    for _ in range(args.rounds):  # interleaved: the machine's drift hits every contender alike
        for name, fn in contenders:
            clips, sec, *extra = fn()
            rates[name].append(clips / sec)
            if extra:
                info[name] = extra[0]
    median = {name: statistics.median(r) for name, r in rates.items()}
    print(f"video: {args.video}; sequential clips T={T} tau={TAU} -> float [3,{T},{S},{S}] standardized; "
          f"{os.cpu_count()} cores; {args.rounds} interleaved rounds, medians")
    d = info["longform, defaults"]
    print(f"longform defaults: {d['workers']} decode workers x {d['decoder_threads']} FFmpeg thread, torch {d['intra_op_threads']} threads; "
          f"decode amplification {d['decode_amplification']:.2f}, seeks {d['seeks']}, peak RSS {d['peak_rss_mib']:.0f} MiB")
    print(f"{'pipeline':44} {'clips/s':>8}  {'all rounds'}")
    for name, _ in contenders:
        print(f"{name:44} {median[name]:8.2f}  {' '.join(f'{r:.2f}' for r in rates[name])}")
    print(f"headline, each at its defaults: longform / PyAV = {median['longform, defaults'] / median['PyAV + torch, defaults']:.2f}x (goal >= 1.25x)")
    print(f"scaling: W={n} / W=1 (1 decoder thread each) = "
          f"{median[f'longform, W={n}, 1 decoder thread each'] / median['longform, W=1, 1 decoder thread']:.2f}x (goal >= 1.7x)")
    if args.short and args.long:
        a = ours(args.binary, args.short)
        b = ours(args.binary, args.long)
        print(f"peak RSS: {args.short}: {a['peak_rss_mib']:.1f} MiB ({a['clips']} clips); "
              f"{args.long}: {b['peak_rss_mib']:.1f} MiB ({b['clips']} clips); "
              f"ratio {b['peak_rss_mib'] / a['peak_rss_mib']:.3f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
