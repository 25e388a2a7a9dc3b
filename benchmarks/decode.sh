#!/usr/bin/env bash
# Decode benchmark: longform vs ffmpeg vs PyAV on a 720p H.264 (B-frames) re-encode of vtest.avi.
# usage: benchmarks/decode.sh [VIDEO] [THREADS]
source "$(dirname "$0")/../scripts/bootstrap"
longform_build bench_decode
longform_pip "$LONGFORM_PY" av
data=$LONGFORM_CACHE/data
"$LONGFORM_ROOT/tests/data/fetch-videos" "$data"
video=${1:-$data/vtest_720p_h264.mp4}
if [ ! -f "$video" ]; then
  ffmpeg -nostdin -v error -i "$data/vtest.avi" -vf scale=1280:720 -c:v libx264 -preset veryfast -bf 3 -g 48 \
    -pix_fmt yuv420p "$video"
fi
"$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/decode.py" "$LONGFORM_BUILD_DIR/benchmarks/bench_decode" "$video" \
  --threads "${2:-2}"
