#!/usr/bin/env python3
"""Decode throughput, side by side in one run: longform's VideoReader vs the `ffmpeg` command
(same thread count) vs PyAV. Every contender decodes every frame of the same video to packed
RGB24, at native size and at 224x224; `ffmpeg -f null` without conversion is shown as a bound.

usage: benchmarks/decode.py BENCH_DECODE_BINARY VIDEO [--threads N] [--repeats R]
"""
import argparse
import json
import subprocess
import time


def best_of(repeats, fn):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def ffmpeg_seconds(video, threads, repeats, vf):
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-threads", str(threads), "-i", video, "-map", "0:v:0"]
    cmd += vf + ["-f", "null", "-"]
    return best_of(repeats, lambda: subprocess.run(cmd, check=True))


def pyav_seconds(video, threads, repeats, size):
    import av

    def run():
        with av.open(video) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.thread_count = threads
            for frame in container.decode(stream):
                if size:
                    frame.to_ndarray(format="rgb24", width=size, height=size)
                else:
                    frame.to_ndarray(format="rgb24")

    return best_of(repeats, run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("video")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    ours = json.loads(subprocess.run([args.binary, args.video, str(args.threads), str(args.repeats)],
                                     check=True, capture_output=True, text=True).stdout)
    n = ours["frames"]
    rows = {
        ("native", "longform"): ours["native_fps"],
        ("native", "ffmpeg -pix_fmt rgb24"): n / ffmpeg_seconds(args.video, args.threads, args.repeats,
                                                               ["-pix_fmt", "rgb24"]),
        ("native", "ffmpeg (decode only, no RGB)"): n / ffmpeg_seconds(args.video, args.threads, args.repeats, []),
        ("native", "PyAV"): n / pyav_seconds(args.video, args.threads, args.repeats, None),
        ("224x224", "longform"): ours["scaled224_fps"],
        ("224x224", "ffmpeg scale+rgb24"): n / ffmpeg_seconds(
            args.video, args.threads, args.repeats, ["-vf", "scale=224:224:flags=bicubic", "-pix_fmt", "rgb24"]),
        ("224x224", "PyAV"): n / pyav_seconds(args.video, args.threads, args.repeats, 224),
    }
    print(f"video: {args.video} ({n} frames), decoder threads: {args.threads}, best of {args.repeats}")
    print(f"{'size':8} {'decoder':32} {'frames/s':>10} {'longform / this':>16}")
    for (size, name), fps in rows.items():
        ratio = rows[(size, "longform")] / fps
        print(f"{size:8} {name:32} {fps:10.1f} {ratio:16.2f}")


if __name__ == "__main__":
    main()
