#!/usr/bin/env python3
"""How fast the decode workers feed a trainer: clips/s and core-seconds per clip against the number
of decode workers W, per video (720p and 1080p H.264), by `bench_pipeline` (benchmarks/pipeline.cpp:
sequential 16x4 clips at 224², standardized, on W decode workers).

Each run is one `bench_pipeline VIDEO --workers W --repeats 1 ...` process. clips/s is the one the
program reports (its timed pass); core-seconds per clip is the process's user + system CPU time
(wait4's rusage, so all its threads, start-up and opening included) over the clips it made. Rounds
are interleaved (every video x W x decoder once per round, then the next round) and the table shows
medians over the rounds. With NVDEC (`--decode-device cuda` in bench_pipeline and libnvcuvid
loadable) each cell is also run decoding on the GPU, as a second column.

usage: feed.py BENCH_PIPELINE VIDEO... [--workers 1 2 4] [--rounds 3] [--decode-device auto|cpu|cuda]
               [--json OUT.json] [--frames 16] [--stride 4] [--size 224]
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def nvdec_loadable():
    """Whether this host's driver exposes NVDEC (libnvcuvid) and CUDA (libcuda)."""
    try:
        ctypes.CDLL("libcuda.so.1")
        ctypes.CDLL("libnvcuvid.so.1")
        return True
    except OSError:
        return False


def supports_decode_device(bench):
    """Whether this bench_pipeline takes --decode-device (its usage line names it)."""
    r = subprocess.run([bench], capture_output=True, text=True)
    return "--decode-device" in (r.stdout + r.stderr)


def run_once(cmd):
    """Runs one bench_pipeline; returns its JSON result, its user + system CPU seconds and wall seconds."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)  # the rusage of exactly this child, all its threads
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        if p.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
            sys.exit(f"feed.py: {' '.join(cmd)} exited {p.returncode}")
    line = next(l for l in out.decode().splitlines() if l.startswith("{"))
    return json.loads(line), usage.ru_utime + usage.ru_stime, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench")
    ap.add_argument("videos", nargs="+")
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode-device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--json", help="also write the medians and every run here")
    a = ap.parse_args()

    devices = ["cpu"]
    note = None
    if a.decode_device in ("auto", "cuda"):
        has_flag, has_nvdec = supports_decode_device(a.bench), nvdec_loadable()
        if has_flag and has_nvdec:
            devices.append("cuda")
        else:
            note = ("NVDEC column skipped: " + ("bench_pipeline has no --decode-device" if not has_flag else "libnvcuvid.so.1 is not loadable"))
            if a.decode_device == "cuda":
                sys.exit("feed.py: " + note)
    if a.decode_device == "cuda":
        devices = ["cuda"]

    runs = []
    for r in range(a.rounds):
        for video in a.videos:
            for w in a.workers:
                for device in devices:
                    cmd = [a.bench, video, "--workers", str(w), "--frames", str(a.frames), "--stride", str(a.stride),
                           "--size", str(a.size), "--repeats", "1"] + (["--decode-device", device] if device != "cpu" else [])
                    res, cpu_s, wall = run_once(cmd)
                    row = {"round": r, "video": os.path.basename(video), "workers": w, "decode": device,
                           "clips": res["clips"], "clips_per_s": res["clips_per_s"], "cpu_s": round(cpu_s, 3),
                           "core_s_per_clip": cpu_s / max(1, res["clips"]), "wall_s": round(wall, 3),
                           "peak_rss_mib": res.get("peak_rss_mib"), "decoder_threads": res.get("decoder_threads")}
                    runs.append(row)
                    print(f"[feed] round {r + 1}/{a.rounds} {row['video']} W={w} {device}: {row['clips_per_s']:.2f} clips/s, "
                          f"{row['core_s_per_clip']:.3f} core-s/clip", file=sys.stderr, flush=True)

    cells = []
    for video in a.videos:
        name = os.path.basename(video)
        for w in a.workers:
            cell = {"video": name, "workers": w}
            for device in devices:
                mine = [x for x in runs if x["video"] == name and x["workers"] == w and x["decode"] == device]
                cell[device] = {"clips_per_s": round(statistics.median(x["clips_per_s"] for x in mine), 3),
                                "core_s_per_clip": round(statistics.median(x["core_s_per_clip"] for x in mine), 4),
                                "clips": mine[0]["clips"], "rounds": len(mine)}
            cells.append(cell)

    # The table: one row per video x W, a clips/s and a core-s/clip column per decoder.
    head = f"{'video':<26} {'W':>3}"
    for device in devices:
        label = "NVDEC" if device == "cuda" else "CPU"
        head += f" {label + ' clips/s':>15} {label + ' core-s/clip':>18}"
    print(head)
    print("-" * len(head))
    for c in cells:
        row = f"{c['video']:<26} {c['workers']:>3}"
        for device in devices:
            row += f" {c[device]['clips_per_s']:>15.2f} {c[device]['core_s_per_clip']:>18.3f}"
        print(row)
    if note:
        print(note)
    summary = {"bench": "feed", "frames": a.frames, "stride": a.stride, "size": a.size, "rounds": a.rounds,
               "decoders": devices, "cores": os.cpu_count(), "cells": cells}
    if note:
        summary["note"] = note
    print(json.dumps(summary))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(summary, runs=runs), f, indent=1)


if __name__ == "__main__":
    main()
