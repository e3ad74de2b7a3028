"""Load a model written by ``PerceiverIO.save_pretrained`` (safetensors weights + JSON config)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from torchperceiver.adapters import ADAPTER_CONFIGS
from torchperceiver.core.model import CONFIG_FILE, WEIGHTS_FILE, PerceiverConfig, PerceiverIO


def load_config(directory: str | os.PathLike) -> PerceiverConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"directory: expected {CONFIG_FILE} in {directory}, found none")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    return PerceiverConfig.from_dict(data, ADAPTER_CONFIGS)


def load(directory: str | os.PathLike, device: str = "cpu") -> PerceiverIO:
    """Rebuild the model saved in ``directory`` with its weights (strict: every tensor must match)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    model = PerceiverIO(load_config(directory))
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"directory: expected {WEIGHTS_FILE} in {directory}, found none")
    try:
        load_model(model, str(weights), strict=True, device=device)
    except (SafetensorError, RuntimeError) as err:
        raise ValueError(f"{weights}: cannot load weights ({err})") from err
    return model.to(device)
