"""A tiny MLM run for the training tests: seconds on a CPU, every feature of the engine on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TINY = [
    "model.num_latents=8",
    "model.latent_dim=32",
    "model.num_layers=1",
    "model.num_self_heads=2",
    "model.num_cross_heads=2",
    "model.qk_channels=16",
    "model.embed_dim=16",
    "model.max_seq_len=64",
    "data.seq_len=64",
    "train.batch_size=8",
    "train.steps=6",
    "train.log_every=2",
    "train.eval_every=3",
    "train.eval_batches=2",
    "train.checkpoint_every=3",
    "train.progress=false",
    "train.tensorboard=false",
    "optim.warmup_steps=2",
]


def cli(*args: str | Path, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m torchperceiver.cli`` in a fresh process (single-threaded: reproducible, light)."""
    return subprocess.run(
        [sys.executable, "-m", "torchperceiver.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def finished_run(directory: Path, overrides: list[str]) -> subprocess.CompletedProcess:
    """Train a run into ``directory / "run"`` through the CLI and check that it succeeded."""
    result = cli("train", "--out", directory / "run", "--set", *overrides)
    assert result.returncode == 0, result.stderr
    return result


def final_weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    from torchperceiver.training.checkpoint import resolve

    return load_file(str(resolve(run_dir, "run") / "model.safetensors"))
