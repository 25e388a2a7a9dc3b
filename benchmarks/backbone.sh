#!/usr/bin/env bash
# Backbone benchmark: longform's X3D-S/M and ViT-S vs pytorchvideo / transformers, same threads.
# usage: benchmarks/backbone.sh [THREADS] [ITERS] [ROUNDS]
source "$(dirname "$0")/../scripts/bootstrap"
longform_build bench_backbone
longform_pip "$LONGFORM_PY" pytorchvideo==0.1.5 transformers
"$LONGFORM_PY" "$LONGFORM_ROOT/benchmarks/backbone.py" "$LONGFORM_BUILD_DIR/benchmarks/bench_backbone" \
  --threads "${1:-$(nproc)}" --iters "${2:-3}" --rounds "${3:-3}"
