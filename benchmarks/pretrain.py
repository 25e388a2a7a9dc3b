#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end MoCo pre-training throughput: `longform pretrain --method moco --arch x3d_xs --sampler
sequential --frames 16 --stride 4 --size 112 --batch 4` vs the same loop in Python
(pretrain_peer.py: PyAV + pytorchvideo's X3D + torch), each at its defaults, on one video.

Each side runs as a child process for --steps steps; rounds are interleaved (the order swaps every
round) and medians over rounds reported, as this machine's speed drifts. Per run:
- clips/s over the steady state, steps 3..N (the first 2 are warm-up): longform's from the
  `elapsed_s` of its metrics.jsonl, the peer's from its own step clock;
- CPU use over the same steps (CPU seconds / wall seconds): longform's from /proc/PID/stat, sampled
  when metrics.jsonl shows step 2 and step N; the peer's from time.process_time();
- CPU use of the whole process (getrusage of the child, user + sys, over its wall time: start-up,
  imports and longform's final checkpoint included).
Optional rows as explanation: --pyav-auto (the peer with PyAV's frame threads, thread_type AUTO),
--equal-threads (longform --threads 1 --decode-workers 1 vs the peer with 1 torch and 1 PyAV thread).

usage: pretrain.py LONGFORM_BINARY VIDEO [--rounds R] [--steps N] [--pyav-auto] [--equal-threads]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

WARMUP = 2
LONGFORM_ARGS = ["pretrain", "--method", "moco", "--arch", "x3d_xs", "--sampler", "sequential", "--frames", "16",
                 "--stride", "4", "--size", "112", "--batch", "4"]
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrain_peer.py")


def cpu_seconds(pid):
    """utime + stime of a running process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metrics_steps(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def run_child(cmd, on_poll=None):
    """Runs cmd, calling on_poll(pid) every 50 ms; returns (stdout, wall seconds, CPU seconds from wait4)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if on_poll:
                on_poll(p.pid)
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err.read()[-3000:]}")
        out.seek(0)
        return out.read(), wall, ru.ru_utime + ru.ru_stime


def longform(binary, video, steps, extra):
    with tempfile.TemporaryDirectory(prefix="longform-pretrain-bench-") as out_dir:
        metrics = os.path.join(out_dir, "metrics.jsonl")
        marks = {}  # step -> (wall, cpu) when its line was first seen

        def poll(pid):
            seen = len(metrics_steps(metrics))
            for s in (WARMUP, steps):
                if seen >= s and s not in marks:
                    marks[s] = (time.perf_counter(), cpu_seconds(pid))

        cmd = [binary] + LONGFORM_ARGS + ["--videos", video, "--steps", str(steps), "--out", out_dir, "--overwrite"] + extra
        stdout, wall, cpu = run_child(cmd, poll)
        summary = json.loads(stdout.strip().splitlines()[-1])
        m = {r["step"]: r for r in metrics_steps(metrics)}
    span = m[steps]["elapsed_s"] - m[WARMUP]["elapsed_s"]
    if len(marks) < 2:
        raise SystemExit(f"longform exited before its CPU time was sampled at steps {WARMUP} and {steps}")
    (w0, c0), (w1, c1) = marks[WARMUP], marks[steps]
    return {"clips_per_s": (steps - WARMUP) * summary["options"]["batch"] / span, "cpu_use": (c1 - c0) / (w1 - w0),
            "run_cpu_use": cpu / wall, "wall_s": wall, "step_s": span / (steps - WARMUP), "loss": summary.get("loss"),
            "data_wait_share": summary.get("data_wait_share")}


def python_peer(video, steps, extra):
    stdout, wall, cpu = run_child([sys.executable, PEER, video, "--steps", str(steps)] + extra)
    r = json.loads(stdout.strip().splitlines()[-1])
    return {"clips_per_s": r["clips_per_s"], "cpu_use": r["cpu_use"], "run_cpu_use": cpu / wall, "wall_s": wall,
            "step_s": r["step_s"], "loss": r["loss"], "torch_threads": r["torch_threads"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("video")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=14, help="steps per run, the first 2 of them warm-up")
    ap.add_argument("--pyav-auto", action="store_true", help="also the peer with PyAV frame threads (thread_type AUTO)")
    ap.add_argument("--equal-threads", action="store_true", help="also both sides on 1 thread")
    args = ap.parse_args()
    if args.steps <= WARMUP:
        ap.error(f"--steps must exceed the {WARMUP} warm-up steps")
    contenders = [("longform, defaults", lambda: longform(args.binary, args.video, args.steps, [])),
                  ("python, defaults", lambda: python_peer(args.video, args.steps, []))]
    if args.pyav_auto:
        contenders.append(("python, PyAV thread_type AUTO", lambda: python_peer(args.video, args.steps, ["--pyav-threads", "0"])))
    if args.equal_threads:
        contenders += [("longform, 1 thread", lambda: longform(args.binary, args.video, args.steps,
                                                                ["--threads", "1", "--decode-workers", "1"])),
                       ("python, 1 thread", lambda: python_peer(args.video, args.steps,
                                                                ["--torch-threads", "1", "--pyav-threads", "1"]))]
    runs = {name: [] for name, _ in contenders}
    for r in range(args.rounds):
        for name, fn in (contenders if r % 2 == 0 else contenders[::-1]):
            runs[name].append(fn())
            print(f"round {r + 1}: {name}: {json.dumps(runs[name][-1])}", file=sys.stderr, flush=True)
    keys = ["clips_per_s", "cpu_use", "run_cpu_use", "step_s", "wall_s"]
    med = {name: {k: statistics.median(x[k] for x in rs) for k in keys} for name, rs in runs.items()}
    result = {"steps": args.steps, "warmup_steps": WARMUP, "rounds": args.rounds, "cores": os.cpu_count(), "median": med,
              "ratio": med["longform, defaults"]["clips_per_s"] / med["python, defaults"]["clips_per_s"],
              "runs": runs}
    if args.equal_threads:
        result["ratio_1_thread"] = med["longform, 1 thread"]["clips_per_s"] / med["python, 1 thread"]["clips_per_s"]
    print(json.dumps(result))
    print(f"\nMoCo X3D-XS 16x112^2 batch 4, {args.steps} steps ({WARMUP} warm-up), median of {args.rounds} interleaved rounds")
    print(f"{'':32} {'clips/s':>8} {'CPU use':>8} {'run CPU':>8} {'step s':>7} {'run s':>6}")
    for name, m in med.items():
        print(f"{name:32} {m['clips_per_s']:8.3f} {m['cpu_use']:8.2f} {m['run_cpu_use']:8.2f} {m['step_s']:7.2f} {m['wall_s']:6.1f}")
    print(f"longform / python at defaults: {result['ratio']:.2f}x (goal >= 1.1x)")
    if args.equal_threads:
        print(f"longform / python at 1 thread: {result['ratio_1_thread']:.2f}x")


if __name__ == "__main__":
    main()
