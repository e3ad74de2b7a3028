"""Side-by-side benchmarks: torchperceiver vs HF transformers (and lucidrains' perceiver-pytorch).

Run from the repository root: ``python -m benchmarks.compare --device cpu`` and
``python -m benchmarks.scaling --device cpu``; ``bash benchmarks/gpu.sh`` on a CUDA machine.
"""
