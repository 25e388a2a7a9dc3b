#!/usr/bin/env bash
# Feed benchmark: how many clips/s the decode workers deliver, and how many core-seconds each clip
# costs, against the number of decode workers W, on 720p and 1080p H.264 (B-frames) re-encodes of
# vtest.avi, with sequential 16x4 clips at 224² (bench_pipeline; benchmarks/feed.py runs it,
# interleaves the rounds and prints a table of medians and one JSON line). Where bench_pipeline
# takes --decode-device and the driver exposes NVDEC, each cell is also measured decoding on the GPU.
#
# usage: benchmarks/feed.sh [WORKERS] [ROUNDS]      e.g. benchmarks/feed.sh "1 2 4 8 16" 3
#   WORKERS  decode workers to try (default "1 2"; scripts/gpu-check passes "1 2 4 8 16" on a GPU host)
#   ROUNDS   interleaved rounds, medians reported (default 3)
# Environment:
#   LONGFORM_BENCH_PIPELINE  a built bench_pipeline: nothing is built, installed or fetched (scripts/gpu-check)
#   LONGFORM_FEED_FOOTAGE    the folder with vtest.avi (default: the fetched test footage)
#   LONGFORM_FEED_VIDEOS     where the 720p/1080p clips are made once and kept (default: the footage folder)
#   LONGFORM_FEED_LOOPS      vtest.avi (795 frames at 10 fps) repeated this often in each clip (default 2)
#   LONGFORM_FEED_JSON       also write the medians and every run to this file
#   LONGFORM_FEED_ARGS       more benchmarks/feed.py arguments (e.g. --decode-device cpu)
# The clips are made with the `ffmpeg` on PATH (on the GPU host, scripts/gpu-ffmpeg's build).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
workers=${1:-1 2}
rounds=${2:-3}
if [ -n "${LONGFORM_BENCH_PIPELINE:-}" ]; then
  bench=$LONGFORM_BENCH_PIPELINE
  py=${LONGFORM_PYTHON:-python3}
  footage=${LONGFORM_FEED_FOOTAGE:?LONGFORM_FEED_FOOTAGE: the folder with vtest.avi}
else
  source "$here/../scripts/bootstrap"
  longform_build bench_pipeline
  bench=$LONGFORM_BUILD_DIR/benchmarks/bench_pipeline
  py=$LONGFORM_PY
  footage=${LONGFORM_FEED_FOOTAGE:-$LONGFORM_CACHE/data}
  [ -n "${LONGFORM_FEED_FOOTAGE:-}" ] || "$here/../tests/data/fetch-videos" "$footage"
fi
dest=${LONGFORM_FEED_VIDEOS:-$footage}
loops=${LONGFORM_FEED_LOOPS:-2}
mkdir -p "$dest"

# 720p and 1080p H.264 with B-frames (as benchmarks/pipeline.sh makes its 720p input).
videos=()
for size in 1280:720 1920:1080; do
  video=$dest/vtest_${size#*:}p_x${loops}.mp4
  if [ ! -f "$video" ]; then
    echo "[feed] making $video" >&2
    nice -n 10 ffmpeg -nostdin -v error -y -stream_loop $((loops - 1)) -i "$footage/vtest.avi" -vf "scale=$size" \
      -c:v libx264 -preset veryfast -bf 3 -g 48 -pix_fmt yuv420p -an "$video.part.mp4"
    mv "$video.part.mp4" "$video"
  fi
  videos+=("$video")
done

json=()
[ -n "${LONGFORM_FEED_JSON:-}" ] && json=(--json "$LONGFORM_FEED_JSON")
# shellcheck disable=SC2086  # WORKERS and LONGFORM_FEED_ARGS are word lists
"$py" "$here/feed.py" "$bench" "${videos[@]}" --workers $workers --rounds "$rounds" "${json[@]}" ${LONGFORM_FEED_ARGS:-}
