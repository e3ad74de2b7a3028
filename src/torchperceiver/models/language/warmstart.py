"""Start a classifier from another model's encoder (``finetune.init``), optionally frozen for a while.

The source is anything ``load_model`` reads: an MLM run directory, one of its checkpoints, a
``save_pretrained`` directory (e.g. a converted official or HF checkpoint). Tensors are copied by name
when the shapes agree; every parameter is reported as copied or freshly initialised (and why).
``finetune.frozen_encoder_examples`` keeps the copied encoder frozen while the first N training examples
go by (a warm-up of the fresh head): the training stream then carries each example's index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from torchperceiver.core.model import PerceiverIO
from torchperceiver.presets import ModelSection
from torchperceiver.training.task import Batch

COPIED_PREFIXES = ("input_adapter.", "encoder.")


@dataclass
class FinetuneConfig:
    """``init``: a run, checkpoint or model directory whose input adapter and encoder start this model."""

    init: str | None = None
    frozen_encoder_examples: int = 0

    def __post_init__(self) -> None:
        if self.frozen_encoder_examples < 0:
            raise ValueError(f"finetune.frozen_encoder_examples: expected >= 0, got {self.frozen_encoder_examples}")
        if self.frozen_encoder_examples and not self.init:
            raise ValueError(
                "finetune.frozen_encoder_examples: expected finetune.init (a frozen random encoder), got none"
            )


class IndexedExamples(Dataset):
    """Adds each item's stream index (``"index"``), so the task knows how far training has gone."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {**self.dataset[index], "index": torch.tensor(index)}


class EncoderFreeze:
    """A forward hook that detaches the encoder's output while the batch's examples are among the first
    ``examples``: no gradient reaches the encoder or the input adapter, so the optimizer leaves them as they
    are (single process: DDP needs every gradient)."""

    def __init__(self, model: PerceiverIO, examples: int) -> None:
        self.examples, self.active = examples, False
        model.encoder.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        return output.detach() if self.active and module.training else output

    def follow(self, batch: Batch) -> None:
        """Freeze (or not) for this batch, from its examples' stream indices."""
        if "index" in batch:
            self.active = int(batch["index"].max()) < self.examples


class Finetuned:
    """The recipe's model, warm-started and frozen as ``finetune`` says; shared by the classification tasks."""

    def __init__(self, finetune: FinetuneConfig | None) -> None:
        self.cfg = finetune or FinetuneConfig()
        self.freeze: EncoderFreeze | None = None

    def build(self, model_cfg: ModelSection) -> PerceiverIO:
        model = model_cfg.build()
        if self.cfg.init:
            print(copy_encoder(model, self.cfg.init).report(), flush=True)
        if self.cfg.frozen_encoder_examples:
            self.freeze = EncoderFreeze(model, self.cfg.frozen_encoder_examples)
        return model

    def train_dataset(self, dataset: Dataset) -> Dataset:
        """``dataset``, with each item's index while a freeze needs it."""
        return IndexedExamples(dataset) if self.freeze is not None else dataset

    def follow(self, batch: Batch) -> None:
        if self.freeze is not None:
            self.freeze.follow(batch)


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
