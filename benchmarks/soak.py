#!/usr/bin/env python3
"""Memory soak of `longform clips -`: ffmpeg generates a long 360p 25 fps H.264 MPEG-TS stream as
fast as it can (no -re) and pipes it into `clips` reading standard input (a forward-only live
stream). Every `--every` seconds of STREAM time (ffmpeg's `-progress` out_time_us: what it has
encoded and written into the pipe, at most a pipe buffer plus the clips process's read-ahead ahead
of what `clips` has consumed) the clips process's VmHWM (peak RSS) and VmRSS are read from
/proc/PID/status. The last row is the clips process at its end: its own summary's peak_rss_mib
(--decode), else the last VmHWM polled before it exited. Prints a table and one JSON line with the
last/first peak ratio (first = the first mark), wall time, and the clips and frames that `clips`
reports.

usage: soak.py CLIPS_BIN [--seconds 7200] [--every 600] [--source vtest|testsrc2] [--mode decode|list] ...
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status(pid: int) -> dict[str, float] | None:
    """VmHWM / VmRSS (MiB) of a live process, None once it is gone (a zombie has no Vm* lines)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            out = {}
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":", 1)
                    out[key] = float(value.split()[0]) / 1024.0
            return out if len(out) == 2 else None
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def ffmpeg_command(a: argparse.Namespace) -> list[str]:
    head = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-nostats", "-progress", "pipe:2"]
    if a.source == "testsrc2":
        inputs = ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={a.fps}"]
        vf = []
    else:
        # Real footage, looped endlessly. setpts renumbers the frames at the output rate, so every
        # source frame is one stream frame (vtest is 10 fps: played 2.5x faster, no duplicates).
        inputs = ["-stream_loop", "-1", "-i", a.video]
        vf = ["-vf", f"setpts=N/({a.fps}*TB),scale=640:360,fps={a.fps}"]
    return head + inputs + ["-t", str(a.seconds)] + vf + [
        "-an", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", str(2 * a.fps), "-pix_fmt", "yuv420p",
        "-f", "mpegts", "-"]


def clips_command(a: argparse.Namespace) -> list[str]:
    cmd = [a.clips, "clips", "--sampler", "sequential", "--frames", str(a.frames), "--stride", str(a.stride)]
    if a.mode == "decode":
        cmd += ["--decode", "--size", str(a.size), "--batch", str(a.batch), "--threads", str(a.threads)]
    return cmd + ["-"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clips", help="the longform CLI binary")
    p.add_argument("--seconds", type=int, default=7200, help="stream length (s)")
    p.add_argument("--every", type=int, default=600, help="sample RSS every this many stream seconds")
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--source", choices=["vtest", "testsrc2"], default="vtest")
    p.add_argument("--video", default=os.path.expanduser("~/.cache/longform/data/vtest.avi"))
    p.add_argument("--mode", choices=["decode", "list"], default="decode",
                   help="decode: `clips --decode` (the whole pipeline, one summary line); list: one JSON line per clip")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=0, help="clips --threads (0 = all cores)")
    p.add_argument("--max-wall", type=float, default=0,
                   help="stop the generator (SIGINT: ffmpeg ends the stream cleanly) after this many wall seconds; 0 = never")
    p.add_argument("--json-out", help="also write the JSON result here")
    a = p.parse_args()

    ff_cmd, cl_cmd = ffmpeg_command(a), clips_command(a)
    print("generator:", shlex.join(ff_cmd), file=sys.stderr)
    print("clips:    ", shlex.join(cl_cmd), file=sys.stderr)
    start = time.monotonic()
    ff = subprocess.Popen(ff_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    cl = subprocess.Popen(cl_cmd, stdin=ff.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    ff.stdout.close()  # clips holds the only read end: ffmpeg sees EPIPE if clips dies

    # clips' standard output: counted, never stored (list mode prints one line per clip).
    out = {"lines": 0, "frames": 0, "last": None, "bad": 0}

    def read_stdout() -> None:
        for line in cl.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                out["bad"] += 1
                continue
            out["lines"] += 1
            if isinstance(obj.get("frames"), list):
                out["frames"] += len(obj["frames"])
            out["last"] = obj

    cl_err: collections.deque[str] = collections.deque(maxlen=40)

    def read_stderr() -> None:
        for line in cl.stderr:
            cl_err.append(line.rstrip())

    # Poll the clips process all along: the last values read before it exits stand for its end
    # (its /proc entry loses Vm* lines once it exits).
    poll = {"status": None, "cpu": None, "max_rss": 0.0, "interval_max_rss": 0.0}

    def poller() -> None:
        while cl.poll() is None:
            st, cpu = proc_status(cl.pid), proc_cpu_s(cl.pid)
            if st:
                poll["status"] = st
                poll["max_rss"] = max(poll["max_rss"], st["VmRSS"])
                poll["interval_max_rss"] = max(poll["interval_max_rss"], st["VmRSS"])
            if cpu is not None:
                poll["cpu"] = cpu
            time.sleep(0.5)

    threads = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr, poller)]
    for t in threads:
        t.start()

    samples = []
    ff_err: collections.deque[str] = collections.deque(maxlen=40)
    next_mark = a.every
    out_time = 0.0
    frames_encoded = 0
    stopped_early = False

    def sample(stream_s: float) -> None:
        st, cpu = proc_status(cl.pid), proc_cpu_s(cl.pid)
        if st is None:
            return
        row = {"stream_min": round(stream_s / 60, 2), "wall_s": round(time.monotonic() - start, 1),
               "vmhwm_mib": round(st["VmHWM"], 1), "vmrss_mib": round(st["VmRSS"], 1),
               "clips_cpu_s": round(cpu, 1) if cpu is not None else None,
               # the largest VmRSS polled (every 0.5 s) since the previous mark
               "interval_max_rss_mib": round(max(poll["interval_max_rss"], st["VmRSS"]), 1)}
        poll["interval_max_rss"] = 0.0
        samples.append(row)
        print(f"  stream {row['stream_min']:7.2f} min  wall {row['wall_s']:7.1f} s  VmHWM {row['vmhwm_mib']:8.1f} MiB"
              f"  VmRSS {row['vmrss_mib']:8.1f} MiB (max since last {row['interval_max_rss_mib']:8.1f})  clips cpu {row['clips_cpu_s']} s", file=sys.stderr, flush=True)

    for line in ff.stderr:  # -progress blocks (key=value), errors in between
        line = line.strip()
        key, eq, value = line.partition("=")
        if not eq:
            if line:
                ff_err.append(line)
            continue
        if key == "frame":
            frames_encoded = int(value)
        elif key == "out_time_us" and value.lstrip("-").isdigit():
            out_time = int(value) / 1e6
            while out_time >= next_mark:
                sample(next_mark)
                next_mark += a.every
        elif key == "progress" and value == "end":
            # The last partial interval (or the final mark a rounding short of it).
            if out_time > (samples[-1]["stream_min"] * 60 if samples else 0) + 1:
                sample(out_time)
        if a.max_wall > 0 and not stopped_early and time.monotonic() - start > a.max_wall:
            ff.send_signal(signal.SIGINT)
            stopped_early = True
    ff_rc = ff.wait()
    cl_rc = cl.wait()
    for t in threads:
        t.join(timeout=10)
    wall = time.monotonic() - start

    summary = out["last"] if a.mode == "decode" else None
    end_hwm = summary.get("peak_rss_mib") if summary else None
    if end_hwm is None and poll["status"]:
        end_hwm = poll["status"]["VmHWM"]
    end_row = {"stream_min": "end", "wall_s": round(wall, 1), "vmhwm_mib": round(end_hwm, 1) if end_hwm else None,
               "vmrss_mib": round(poll["status"]["VmRSS"], 1) if poll["status"] else None,
               "clips_cpu_s": round(poll["cpu"], 1) if poll["cpu"] is not None else None,
               "interval_max_rss_mib": round(poll["interval_max_rss"], 1)}

    print(f"\n{'stream min':>10} {'wall s':>8} {'VmHWM MiB':>10} {'VmRSS MiB':>10} {'max VmRSS':>10} {'clips CPU s':>11}")
    for r in samples + [end_row]:
        print(f"{r['stream_min']!s:>10} {r['wall_s']:>8} {r['vmhwm_mib']!s:>10} {r['vmrss_mib']!s:>10}"
              f" {r['interval_max_rss_mib']!s:>10} {r['clips_cpu_s']!s:>11}")

    first = samples[0]["vmhwm_mib"] if samples else None
    stream_s = frames_encoded / a.fps
    if a.mode == "decode":
        clips = summary.get("clips") if summary else None
        frames = {k: summary.get(k) for k in ("frames_decoded", "frames_used")} if summary else None
    else:
        clips, frames = out["lines"], {"frames_listed": out["frames"]}
    result = {
        "benchmark": "soak", "mode": a.mode, "source": a.source, "clips_command": shlex.join(cl_cmd),
        "generator_command": shlex.join(ff_cmd),
        "stream_seconds_requested": a.seconds, "stream_seconds": round(stream_s, 2), "frames_encoded": frames_encoded,
        "stopped_early": stopped_early, "wall_s": round(wall, 1),
        "stream_s_per_wall_s": round(stream_s / wall, 2) if wall > 0 else None,
        "first_peak_mib": first, "last_peak_mib": end_row["vmhwm_mib"],
        "ratio_last_first": round(end_row["vmhwm_mib"] / first, 4) if first and end_row["vmhwm_mib"] else None,
        "max_vmrss_polled_mib": round(poll["max_rss"], 1),
        "clips": clips, "frames": frames, "samples": samples + [end_row],
        "clips_summary": summary, "clips_rc": cl_rc, "ffmpeg_rc": ff_rc,
        "clips_stderr_tail": list(cl_err)[-10:], "ffmpeg_errors_tail": list(ff_err)[-10:],
        "unparsed_stdout_lines": out["bad"],
    }
    text = json.dumps(result)
    print(text)
    if a.json_out:
        with open(a.json_out, "w") as f:
            f.write(text + "\n")
    ok = cl_rc == 0 and (ff_rc == 0 or stopped_early) and first is not None
    if not ok:
        print(f"soak: FAILED (clips rc {cl_rc}, ffmpeg rc {ff_rc}); clips stderr:\n" + "\n".join(cl_err)
              + "\nffmpeg:\n" + "\n".join(ff_err), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
