"""Checkpoints that lose nothing and never half-exist.

A checkpoint is a directory ``checkpoints/step-XXXXXXXX/`` with the model as ``torchperceiver.load``
reads it (``model.safetensors`` + ``config.json``), the training state (``state.pt``: optimizer,
scheduler, scaler, RNG states, step) and ``manifest.json`` (size and SHA-256 of each file). It is
written under a temporary name and renamed into place, then the ``last`` (and ``best``) pointer files
are replaced atomically, so a crash at any moment leaves the previous checkpoint and pointers intact.
Loading checks the manifest first: a truncated or corrupt file is a clear error, never a bad resume.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from torchperceiver.atomic import atomic_path, public_mode
from torchperceiver.core import io
from torchperceiver.core.io import CONFIG_FILE, MANIFEST, STATE_FILE, WEIGHTS_FILE, write_checked, write_manifest

CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"step-\d{8,}")
LAST, BEST = "last", "best"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says which file and why."""


def name_for(step: int) -> str:
    return f"step-{step:08d}"


def save(
    root: Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    model_config: dict[str, Any],
    train_state: dict[str, Any],
    keep: int,
    best: bool = False,
) -> Path:
    """Write checkpoint ``step`` under ``root``, point ``last`` (and ``best``) at it, prune old ones.

    A full disk is ``OSError(ENOSPC)`` naming the file; the previous checkpoint and pointers stay intact.
    """
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    _remove_partial(root)
    target = root / name_for(step)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{target.name}.", suffix=".tmp"))
    stale = root / f".{target.name}.stale.tmp"
    try:
        tensors = {k: v.detach().contiguous() for k, v in model_state.items()}
        _write(tmp / WEIGHTS_FILE, lambda p: save_file(tensors, str(p), metadata={"format": "pt"}), target)
        _write(tmp / CONFIG_FILE, lambda p: p.write_text(json.dumps(model_config, indent=2) + "\n"), target)
        _write(tmp / STATE_FILE, lambda p: torch.save(train_state, p), target)
        write_manifest(tmp, sorted(tmp.iterdir()), step=step)
        for file in tmp.iterdir():
            public_mode(file)
        public_mode(tmp, directory=True)
        if target.exists():  # re-running a step after resuming from an earlier checkpoint
            os.replace(target, stale)
        os.replace(tmp, target)
        _fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(stale, ignore_errors=True)
    _point(root, LAST, target)
    if best:
        _point(root, BEST, target)
    _prune(root, keep)
    return target


def resolve(path: str | os.PathLike, what: str, pointer: str = LAST) -> Path:
    """A checkpoint directory from itself or from a run directory (via its ``pointer`` file)."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path
    pointer_file = path / CHECKPOINTS / pointer
    if not pointer_file.is_file():
        raise CheckpointError(
            f"{what}: expected a run directory (with {CHECKPOINTS}/{pointer}) or a checkpoint directory "
            f"(with {MANIFEST}), got {str(path)!r}"
        )
    name = pointer_file.read_text().strip()
    if not _NAME.fullmatch(name):
        raise CheckpointError(f"{what}: {pointer_file} should name a checkpoint like step-00000100, got {name!r}")
    target = path / CHECKPOINTS / name
    if not target.is_dir():
        raise CheckpointError(f"{what}: {pointer_file} points to {target.name}, which does not exist")
    return target


def load(checkpoint: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(model_state, train_state)`` of a verified checkpoint."""
    from safetensors.torch import load_file

    verify(checkpoint)
    return load_file(str(checkpoint / WEIGHTS_FILE)), torch.load(checkpoint / STATE_FILE, weights_only=True)


def verify(checkpoint: Path) -> None:
    """Every file the manifest lists is there with its size and SHA-256, else ``CheckpointError``."""
    try:
        io.verify(checkpoint)
    except io.IntegrityError as err:
        raise _unusable(checkpoint, err.why) from err


def checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint directories under ``root``, oldest first."""
    return sorted(p for p in root.glob("step-*") if (p / MANIFEST).is_file())


def _unusable(checkpoint: Path, why: str) -> CheckpointError:
    others = [p for p in checkpoints(checkpoint.parent) if p != checkpoint]
    hint = f"; other checkpoints: {', '.join(str(p) for p in others)}" if others else ""
    return CheckpointError(f"checkpoint {checkpoint}: {why}{hint}")


def _write(path: Path, writer: Callable[[Path], Any], target: Path) -> None:
    write_checked(path, writer, target / path.name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point(root: Path, pointer: str, target: Path) -> None:
    with atomic_path(root / pointer) as tmp:
        tmp.write_text(target.name + "\n")


def _pointed(root: Path, pointer: str) -> str | None:
    file = root / pointer
    return file.read_text().strip() if file.is_file() else None


def _prune(root: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints and the ones ``last`` and ``best`` point to."""
    protected = {_pointed(root, LAST), _pointed(root, BEST)}
    complete = checkpoints(root)
    for path in complete[: max(0, len(complete) - keep)]:
        if path.name not in protected:
            shutil.rmtree(path, ignore_errors=True)


def _remove_partial(root: Path) -> None:
    """Temporary directories a killed process left behind."""
    for path in root.glob(".step-*.tmp"):
        shutil.rmtree(path, ignore_errors=True)
