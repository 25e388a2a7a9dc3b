#!/usr/bin/env bash
# End-to-end pre-training benchmark: `longform pretrain --method moco --arch x3d_xs
# --sampler sequential --frames 16 --stride 4 --size 112 --batch 4` vs the same MoCo loop in Python
# (benchmarks/pretrain_peer.py: PyAV + pytorchvideo's X3D + torch), each at its defaults, on a 720p
# H.264 (B-frames) re-encode of vtest.avi; steady-state clips/s and CPU use, medians of interleaved
# rounds, and the ratio longform / python (goal >= 1.1x). Extra arguments go to pretrain.py
# (--pyav-auto, --equal-threads: explanation rows).
# usage: benchmarks/pretrain.sh [ROUNDS] [STEPS] [pretrain.py options...]
source "$(dirname "$0")/../scripts/bootstrap"
longform_build longform
longform_pip "$LONGFORM_PY" av pytorchvideo==0.1.5
data=$LONGFORM_CACHE/data
"$LONGFORM_ROOT/tests/data/fetch-videos" "$data"
# 3180 frames (vtest four times) of 720p H.264 with B-frames, as benchmarks/pipeline.sh makes it.
video=$data/vtest_720p_long.mp4
[ -f "$video" ] || ffmpeg -nostdin -v error -y -stream_loop 3 -i "$data/vtest.avi" -vf scale=1280:720 -c:v libx264 \
  -preset veryfast -bf 3 -g 48 -pix_fmt yuv420p "$video"
"$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/pretrain.py" "$LONGFORM_BUILD_DIR/examples/longform" "$video" \
  --rounds "${1:-3}" --steps "${2:-14}" "${@:3}"
