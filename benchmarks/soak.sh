#!/usr/bin/env bash
# Memory soak: SECONDS (default 7200 = 2 hours) of generated 360p 25 fps H.264 MPEG-TS, written by
# ffmpeg to a pipe as fast as it can (not -re), streamed through `longform clips -` (a forward-only
# live stream; sequential clips, 16 frames, stride 4, the whole pipeline with --decode). Every 10
# minutes of stream time the clips process's peak RSS (VmHWM) and RSS (VmRSS) are read from
# /proc/PID/status; the end prints a table and one JSON line: last/first peak ratio (goal <= 1.05),
# wall time, and the clips and frames `clips` reports.
# The source is vtest.avi looped (real footage; every source frame one stream frame) or, with
# SOURCE=testsrc2, ffmpeg's test pattern. Extra arguments go to benchmarks/soak.py (see --help
# there: --mode list, --max-wall, --json-out, --every, ...).
# LONGFORM_SOAK_BIN=path/to/longform: soak that binary, no build (a long run then measures the
# binary it was checked with, not whatever the tree holds by then).
# usage: benchmarks/soak.sh [SECONDS] [soak.py options...]
#   e.g. nice -n 19 benchmarks/soak.sh 7200 --json-out /tmp/soak.json
source "$(dirname "$0")/../scripts/bootstrap"
if [ -n "${LONGFORM_SOAK_BIN:-}" ]; then
  longform_install_apt "${longform_apt_packages[@]}"
  LONGFORM_PY=$(longform_python)
else
  longform_build longform
  LONGFORM_SOAK_BIN=$LONGFORM_BUILD_DIR/examples/longform
fi
data=$LONGFORM_CACHE/data
"$LONGFORM_ROOT/tests/data/fetch-videos" "$data"
seconds=${1:-7200}
shift || true
exec "$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/soak.py" "$LONGFORM_SOAK_BIN" \
  --seconds "$seconds" --source "${SOURCE:-vtest}" --video "$data/vtest.avi" "$@"
