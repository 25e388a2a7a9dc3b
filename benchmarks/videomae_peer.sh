#!/usr/bin/env bash
# VideoMAE on the built-in streams: longform's loss next to transformers' VideoMAEForPreTraining
# trained in lockstep on the same batches, masks and learning rates (1 thread each).
# usage: benchmarks/videomae_peer.sh [STEPS] [SEED]
source "$(dirname "$0")/../scripts/bootstrap"
longform_build bench_recorded_pretrain
longform_pip "$LONGFORM_PY" transformers
"$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/videomae_peer.py" "$LONGFORM_BUILD_DIR/benchmarks/bench_recorded_pretrain" \
  --steps "${1:-600}" --seed "${2:-0}"
