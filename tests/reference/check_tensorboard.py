#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python's side of the TensorBoard tests (tests/train/pretrainer.cpp): reads a folder of event files
with TensorBoard's own reader (which checks every record's CRC32C) and compares its scalars with
metrics.jsonl. Exit 0: every check held; 1: a check failed or the `tensorboard` package is
missing (scripts/test installs it), the reason on stderr.

  check_tensorboard.py EVENTS_DIR METRICS_JSONL TAG...
      the scalar tags are exactly TAG...; each has one value per line of METRICS_JSONL, at its
      "step", equal to its TAG value as a float32 (orphaned steps of a resumed run purged)
"""
import json
import struct
import sys

try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    sys.exit("check_tensorboard: FAIL: the tensorboard package is missing (pip install tensorboard; scripts/test does)")


def fail(message):
    print("check_tensorboard: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main(events_dir, metrics, tags):
    accumulator = EventAccumulator(events_dir, size_guidance={"scalars": 0})  # 0: keep every value
    accumulator.Reload()
    if accumulator.file_version != 2.0:
        fail("file_version %r, expected brain.Event:2" % accumulator.file_version)
    found = sorted(accumulator.Tags()["scalars"])
    if found != sorted(tags):
        fail("scalar tags %s, expected %s" % (found, sorted(tags)))
    with open(metrics) as f:
        lines = [json.loads(line) for line in f]
    for tag in tags:
        got = [(e.step, e.value) for e in accumulator.Scalars(tag)]
        want = [(m["step"], float32(m[tag])) for m in lines]
        if got != want:
            fail("%s: TensorBoard has %s, metrics.jsonl %s" % (tag, got, want))
    print("check_tensorboard: %d tags x %d steps agree" % (len(tags), len(lines)))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
