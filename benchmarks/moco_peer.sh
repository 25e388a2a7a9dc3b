#!/usr/bin/env bash
# MoCo on the built-in streams: longform next to a MoCo v2 written in PyTorch (pytorchvideo's
# X3D-Tiny) trained in lockstep on the same views and learning rates, then both encoders and both
# random inits judged by the built-in linear probe (benchmarks/moco_peer.py).
# usage: benchmarks/moco_peer.sh [STEPS] [SEED...]   (default 300 steps, seeds 0 1 2; output under ~/.cache/longform/moco-peer)
source "$(dirname "$0")/../scripts/bootstrap"
longform_build bench_recorded_pretrain longform_cli
longform_pip "$LONGFORM_PY" pytorchvideo==0.1.5 scipy
steps=${1:-300}
seeds=("${@:2}")
((${#seeds[@]})) || seeds=(0 1 2)
PYTHONPATH="$LONGFORM_ROOT/benchmarks" "$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/moco_peer.py" \
  "$LONGFORM_BUILD_DIR/benchmarks/bench_recorded_pretrain" "$LONGFORM_BUILD_DIR/examples/longform" "$LONGFORM_CACHE/moco-peer" \
  --steps "$steps" --seeds "${seeds[@]}"
