"""Save and load models: ``model.safetensors`` (weights) + ``config.json`` (the architecture)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from torchperceiver.atomic import atomic_path
from torchperceiver.core.config import PerceiverConfig
from torchperceiver.core.model import PerceiverIO

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save(model: PerceiverIO, directory: str | os.PathLike) -> None:
    """Write ``model``'s weights and config into ``directory``; each file appears atomically."""
    from safetensors.torch import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        save_model(model, str(tmp), metadata={"format": "pt"})
    with atomic_path(directory / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")


def load_config(directory: str | os.PathLike) -> PerceiverConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"directory: expected {CONFIG_FILE} in {directory}, found none")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    return PerceiverConfig.from_dict(data)


def load(directory: str | os.PathLike, device: str | torch.device = "cpu") -> PerceiverIO:
    """Rebuild the model saved in ``directory`` with its weights (strict: every tensor must match)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    model = PerceiverIO(load_config(directory))
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"directory: expected {WEIGHTS_FILE} in {directory}, found none")
    try:
        load_model(model, str(weights), strict=True, device=str(device))
    except (SafetensorError, RuntimeError) as err:
        raise ValueError(f"{weights}: cannot load weights ({err})") from err
    return model.to(device)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu", what: str = "--checkpoint") -> PerceiverIO:
    """A model from a ``save_pretrained`` directory, a training checkpoint, or a run directory (its last one)."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return load(path, device)
    from torchperceiver.training.checkpoint import resolve  # a run directory's layout belongs to the trainer

    return load(resolve(path, what), device)
