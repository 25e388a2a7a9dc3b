#!/usr/bin/env bash
# Data-parallel scaling: `longform pretrain` (MoCo, X3D-XS, synthetic videos) as 1 process on all
# cores, then as 2 processes (torchrun) on half the cores each, same per-rank batch (weak scaling).
# Prints the job's clips/s (all ranks together) over the steps after the first, and the load.
# usage: benchmarks/data_parallel.sh [STEPS] [SIZE] [BATCH]
source "$(dirname "$0")/../scripts/bootstrap"
longform_build longform_cli
steps=${1:-12} size=${2:-112} batch=${3:-4}
cli=$LONGFORM_BUILD_DIR/examples/longform
out=$(mktemp -d)
args=(pretrain --synthetic --method moco --sampler sequential --arch x3d_xs --frames 4 --stride 4
      --size "$size" --batch "$batch" --steps "$steps" --queue-size 1024)
# clips/s of the job from rank 0's metrics, skipping step 1 (start-up, first decode)
rate() { "$LONGFORM_PY" -c 'import json,sys; m=[json.loads(l) for l in open(sys.argv[1])][1:]; t=sum(x["step_s"] for x in m); print("%.2f clips/s, %.3f s/step" % (sum(x["clips_per_s"]*x["step_s"] for x in m)/t, t/len(m)))' "$1/metrics.jsonl"; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$cli" "${args[@]}" --threads "$(nproc)" --out "$out/one" >/dev/null
echo "1 process,  $(nproc) threads, batch $batch:      $(rate "$out/one")"
"$LONGFORM_PY" -m torch.distributed.run --standalone --nproc_per_node=2 --no-python "$cli" "${args[@]}" --out "$out/two" >/dev/null 2>&1
echo "2 processes, $(( $(nproc) / 2 )) thread(s) each, batch $batch each: $(rate "$out/two")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out"
