"""Start a classifier from another model's encoder: copy the input adapter and encoder weights that fit.

The source is anything ``load_model`` reads: an MLM run directory, one of its checkpoints, a
``save_pretrained`` directory (e.g. a converted official or HF checkpoint). Tensors are copied by name
when the shapes agree; every parameter is reported as copied or freshly initialised (and why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

COPIED_PREFIXES = ("input_adapter.", "encoder.")


@dataclass
class WarmStart:
    source: str
    copied: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"init from {self.source}: {len(self.copied)} tensors copied, {len(self.fresh)} freshly initialised"]
        lines += [f"  copied: {name}" for name in self.copied]
        lines += [f"  fresh:  {name}" for name in self.fresh]
        return "\n".join(lines)


@torch.no_grad()
def copy_encoder(model: nn.Module, source: str | Path) -> WarmStart:
    """Copy ``input_adapter.*`` and ``encoder.*`` tensors of the model saved at ``source`` into ``model``."""
    from torchperceiver.core.io import load_model

    path = Path(source).expanduser()
    if not path.exists():
        raise ValueError(
            f"finetune.init: expected a run, checkpoint or model directory, got {str(source)!r} (not found)"
        )
    donor = load_model(path, "cpu").state_dict()
    result = WarmStart(str(source))
    for name, tensor in model.state_dict().items():
        if not name.startswith(COPIED_PREFIXES):
            result.fresh.append(name)
        elif name not in donor:
            result.fresh.append(f"{name} (not in the source)")
        elif donor[name].shape != tensor.shape:
            result.fresh.append(f"{name} (shape {tuple(donor[name].shape)} in the source, {tuple(tensor.shape)} here)")
            result.mismatched.append(name)
        else:
            tensor.copy_(donor[name])
            result.copied.append(name)
    if not result.copied:
        raise ValueError(f"finetune.init: expected encoder weights that fit this model in {str(source)!r}, found none")
    return result
