"""The task protocol: everything the trainer knows about a task, and nothing about a modality.

A task = a model + a loss + metrics + data (DESIGN §1). Its settings are dataclasses the recipe fills
(``sections``: e.g. ``model`` and ``data``); the trainer, the optimizer and the checkpoints never look
inside them.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass
from typing import Any, ClassVar, Protocol

import torch
from torch import nn
from torch.utils.data import Dataset

Batch = Mapping[str, torch.Tensor]


@dataclass
class TaskOutput:
    """What one batch contributes: losses and metrics as *sums* with their counts.

    ``loss`` sums the per-unit losses (units: masked bytes, images, …) over ``count`` units. The trainer
    divides by the count of the whole global batch (all micro-batches, all ranks), so a run's updates do
    not depend on how its batch is split. ``metrics`` maps a name to ``(sum, count)``; the logged value
    is the total sum over the total count.
    """

    loss: torch.Tensor
    count: torch.Tensor
    metrics: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


class Task(Protocol):
    name: ClassVar[str]
    #: Recipe sections this task reads, each a dataclass type (``{"model": …, "data": …}``).
    sections: ClassVar[dict[str, type]]

    def build_model(self) -> nn.Module: ...

    def train_dataset(self) -> Dataset:
        """Item ``i`` for every ``i >= 0``: an endless stream, a pure function of the index."""
        ...

    def eval_dataset(self) -> Dataset | None:
        """A finite held-out set, or None."""
        ...

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput: ...

    def demo(self, model: nn.Module) -> str:
        """A short human-readable example of what the trained model does (printed after training)."""
        ...


def preset_arguments_config(preset: Any, name: str) -> type:
    """A dataclass of a preset function's keyword arguments with their (released) defaults.

    Recipes then type-check model overrides against the preset itself, with nothing to keep in sync.
    """
    hints = typing.get_type_hints(preset)
    params = inspect.signature(preset).parameters.values()
    return make_dataclass(name, [(p.name, hints[p.name], field(default=p.default)) for p in params])
