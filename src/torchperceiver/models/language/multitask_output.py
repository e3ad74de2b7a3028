"""Multi-task queries (paper §4.2, GLUE): one learned query per task, all decoded from the same latents at once.

The decoder answers ``T`` queries in one forward; each task's output row goes through its own head (linear, or
the fine-tuning Linear → tanh → Linear) to its classes (one value for a regression such as STS-B). The model
returns ``{task name: [B, outputs of that task]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from torchperceiver.core.adapter import Context, OutputAdapter, OutputAdapterConfig
from torchperceiver.core.checks import check_no_query_args


@dataclass
class MultiTaskOutputConfig(OutputAdapterConfig):
    """``tasks``: names; ``num_outputs``: classes per task (1: a regression); ``labels``: class names per task."""

    kind = "multitask_classification"
    tasks: tuple[str, ...] = ("task",)
    num_outputs: tuple[int, ...] = (2,)
    labels: tuple[tuple[str, ...], ...] = ()
    query_dim: int = 1280
    head: Literal["linear", "mlp"] = "linear"

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.num_outputs) != len(self.tasks):
            raise ValueError(f"num_outputs: expected one per task ({len(self.tasks)}), got {len(self.num_outputs)}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks: expected distinct names, got {list(self.tasks)}")
        if self.labels and [len(names) for names in self.labels] != [n if n > 1 else 1 for n in self.num_outputs]:
            raise ValueError(
                f"labels: expected a class name per output of each task {list(self.num_outputs)}, got {self.labels}"
            )

    def build(self) -> MultiTaskOutput:
        return MultiTaskOutput(self)


class MultiTaskOutput(OutputAdapter):
    """Decoder output ``[B, T, query_dim]`` → ``{task: logits [B, num_outputs[t]]}``."""

    def __init__(self, cfg: MultiTaskOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.query = nn.Parameter(torch.empty(len(cfg.tasks), cfg.query_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.heads = nn.ModuleList(_head(cfg.head, cfg.query_dim, n) for n in cfg.num_outputs)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: Context, **query_args: Any) -> torch.Tensor:
        check_no_query_args(query_args, "every task's query is decoded")
        return self.query.expand(context.batch_size, -1, -1)

    def forward(self, y: torch.Tensor, context: Context, **query_args: Any) -> dict[str, torch.Tensor]:
        return {name: head(y[:, t]) for t, (name, head) in enumerate(zip(self.cfg.tasks, self.heads, strict=True))}


def _head(kind: str, width: int, outputs: int) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, outputs))
    return nn.Linear(width, outputs)
