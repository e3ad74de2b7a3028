#!/usr/bin/env bash
# The whole GPU check in one go, within 8 minutes on one H100/H200 (each step has its own time limit and
# writes its results as it goes, so a slow step costs its own rows only):
#   0. the CUDA tests: no host-device sync in a training step of any preset (tests/test_performance.py);
#   1. torchperceiver vs HF transformers at the released shapes, bf16 autocast, training step and inference,
#      most important presets first;
#   2. language-mlm training again with torch.compile;
#   3. the scaling study (Perceiver IO vs a FLOPs-matched Transformer, M = 512 … 2^20, every other power of 2).
# The package is used from src/, not installed: the GPU machine reaches no package index. Its image has torch,
# transformers, numpy, safetensors, matplotlib and pytest, not kornia (imported by the vision family) nor
# jsonargparse: run benchmarks/gpu_wheels.sh here first and carry `.whl`, which is installed into /tmp/site.
# Results (device, versions, date in each table) go into docs/benchmarks.md and docs/scaling-cuda.png; those
# and the logs are copied to $LOGS (7 files).
#   bash benchmarks/gpu.sh                 # LOGS defaults to $OUT/benchmark-logs (or /tmp/benchmark-logs)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3 || command -v python)}
LOGS=${LOGS:-${OUT:-/tmp}/benchmark-logs}
mkdir -p "$LOGS"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
start=$SECONDS
step() {  # step LIMIT_S LOG COMMAND...: run with a time limit, log it, never stop the script
    local limit=$1 log=$2
    shift 2
    echo "== $(date -u +%T) [$((SECONDS - start)) s] $* (limit ${limit} s)" | tee -a "$LOGS/gpu.txt"
    timeout -k 10 "$limit" "$@" >"$LOGS/$log" 2>&1
    echo "   exit $? after $((SECONDS - start)) s" | tee -a "$LOGS/gpu.txt"
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$PY" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__, 'gpu', torch.cuda.get_device_name())"
    date -u
} 2>&1 | tee "$LOGS/gpu.txt"

step 60 tests.log "$PY" -m pytest -q -p no:cacheprovider tests/test_performance.py -k "cuda or host"
step 230 compare.log "$PY" -m benchmarks.compare --device cuda --size full --repeats 5 --warmup 2 \
    --presets language-mlm vision-fourier optical-flow multimodal-ae vision-conv optical-flow-tiled
step 110 compare-compiled.log "$PY" -m benchmarks.compare --device cuda --size full --compile --modes train \
    --presets language-mlm --repeats 5 --warmup 2
step 60 scaling.log "$PY" -m benchmarks.scaling --device cuda --repeats 1 --max-step-seconds 2 \
    --lengths 512 2048 8192 32768 131072 524288 1048576
cp docs/benchmarks.md docs/scaling-cuda.png "$LOGS/" 2>/dev/null
echo "done in $((SECONDS - start)) s" | tee -a "$LOGS/gpu.txt"
