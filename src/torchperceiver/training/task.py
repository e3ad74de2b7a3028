"""The task protocol, the one thing the trainer knows about a model family.

A task = a model + a loss + metrics + data. Tasks register by name (``@register_task``) where they are
defined; a recipe's ``task:`` names one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from torch import nn
from torch.utils.data import Dataset

from torchperceiver.registry import Registry

Batch = Mapping[str, Any]


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
    #: The preset a recipe's ``model`` section builds unless it names another (``model.preset``).
    default_preset: ClassVar[str]
    #: Recipe sections this task reads besides ``model``, each a dataclass type (``{"data": …}``).
    sections: ClassVar[dict[str, type]]

    def build_model(self) -> nn.Module: ...

    def model_config(self, model: nn.Module) -> dict[str, Any]:
        """The JSON config saved beside the weights in each checkpoint (so the checkpoint loads on its own)."""
        ...

    def train_dataset(self) -> Dataset:
        """Item ``i`` for every ``i >= 0``: an endless stream, a pure function of the index."""
        ...

    def eval_dataset(self) -> Dataset | None:
        """A finite held-out set, or None."""
        ...

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput: ...

    def demo(self, model: nn.Module) -> str | None:
        """A short human-readable example of what the trained model does (printed after training)."""
        ...


class Finishing(Protocol):
    """Optional: a task that writes end-of-run artefacts (plots, reports) after the last step."""

    def finish(self, model: nn.Module, run_dir: Path) -> list[Path]: ...


TASKS: Registry[type[Task]] = Registry("task")


TaskType = TypeVar("TaskType", bound=type)


def register_task(cls: TaskType) -> TaskType:
    """Class decorator: make ``cls`` available to recipes as ``task: <cls.name>``."""
    TASKS.add(cls.name, cls)  # type: ignore[attr-defined]  # every task class sets ``name``
    return cls
