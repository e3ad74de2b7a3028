#!/usr/bin/env bash
# Run HERE (a machine that reaches PyPI) before benchmarks/gpu.sh goes to the GPU machine, which reaches no
# package index: downloads the wheels that torchperceiver needs and that machine's image lacks (kornia for the
# vision family's import, jsonargparse for recipes), for its Python 3.12 on x86-64, into .whl/ (git-ignored).
# Then carry `.whl` with the run; gpu.sh installs from it into /tmp/site.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl kornia==0.9.0 kornia_rs==0.2.0 jsonargparse==4.53.0
ls -l .whl
