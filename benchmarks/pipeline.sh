#!/usr/bin/env bash
# Clip pipeline benchmark: longform vs PyAV / torchcodec / decord (+ torch) on a 720p H.264
# (B-frames) re-encode of vtest.avi, each at its defaults first, then at equal threads (interleaved
# rounds, medians); then peak RSS for a 1-minute vs a 15-minute input.
# usage: benchmarks/pipeline.sh [VIDEO] [CORES] [ROUNDS]
source "$(dirname "$0")/../scripts/bootstrap"
longform_build bench_pipeline
longform_pip "$LONGFORM_PY" av
longform_pip "$LONGFORM_PY" torchcodec decord || true   # optional peers: compared where they install
data=$LONGFORM_CACHE/data
"$LONGFORM_ROOT/tests/data/fetch-videos" "$data"
ff() { ffmpeg -nostdin -v error -y "$@"; }
# 3180 frames (vtest four times) of 720p H.264 with B-frames: long enough for decode workers' segments.
video=${1:-$data/vtest_720p_long.mp4}
[ -f "$video" ] || ff -stream_loop 3 -i "$data/vtest.avi" -vf scale=1280:720 -c:v libx264 -preset veryfast -bf 3 -g 48 -pix_fmt yuv420p "$video"
# Memory check inputs: vtest looped, small frames, 1 and 15 minutes at 25 fps.
short=$data/vtest_1min_360p.mp4 long=$data/vtest_15min_360p.mp4
[ -f "$short" ] || ff -stream_loop -1 -i "$data/vtest.avi" -t 60 -vf scale=640:360,fps=25 -c:v libx264 -preset ultrafast -bf 3 -pix_fmt yuv420p "$short"
[ -f "$long" ] || ff -stream_loop -1 -i "$data/vtest.avi" -t 900 -vf scale=640:360,fps=25 -c:v libx264 -preset ultrafast -bf 3 -pix_fmt yuv420p "$long"
"$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/pipeline.py" "$LONGFORM_BUILD_DIR/benchmarks/bench_pipeline" "$video" \
  --threads "${2:-2}" --rounds "${3:-5}" --short "$short" --long "$long"
