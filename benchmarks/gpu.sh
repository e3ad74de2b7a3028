#!/usr/bin/env bash
# The whole GPU comparison in one go, about 8 minutes on one H100/H200 (each step has its own time limit and
# writes its results as it goes, so a slow step costs its own rows only):
#   1. torchperceiver vs HF transformers (vs perceiver-pytorch for language-mlm) at the released shapes,
#      bf16 autocast, training step and inference, every preset;
#   2. the same with torch.compile for the two training targets (language-mlm, vision-fourier);
#   3. the scaling study (Perceiver IO vs a FLOPs-matched Transformer, M = 512 … 2^20).
# Results (device, versions, date included) go into docs/benchmarks.md and docs/scaling-cuda.png; logs into $LOGS.
set -uo pipefail
cd "$(dirname "$0")/.."
LOGS=${LOGS:-${OUT:-/tmp}/benchmark-logs}
mkdir -p "$LOGS"
python -m pip install -q -e ".[bench]" >"$LOGS/pip.log" 2>&1 || echo "pip install failed (offline?): using what is installed"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$LOGS/gpu.txt"
python -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__)" | tee -a "$LOGS/gpu.txt"
date -u | tee -a "$LOGS/gpu.txt"

timeout 300 python -m benchmarks.compare --device cuda --size full --repeats 5 --warmup 2 2>&1 | tee "$LOGS/compare.log"
timeout 100 python -m benchmarks.compare --device cuda --size full --compile --modes train \
    --presets language-mlm vision-fourier --repeats 5 --warmup 2 2>&1 | tee "$LOGS/compare-compiled.log"
timeout 80 python -m benchmarks.scaling --device cuda 2>&1 | tee "$LOGS/scaling.log"
cp docs/benchmarks.md docs/scaling-cuda.png "$LOGS/" 2>/dev/null || true
