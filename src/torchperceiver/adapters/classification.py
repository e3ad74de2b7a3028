"""Classification out: one learned query, then a linear head or the paper's 2-layer tanh MLP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from torchperceiver.core.adapter import AdapterConfig, Context, OutputAdapter


@dataclass
class ClassificationOutputConfig(AdapterConfig):
    """``head='linear'`` is the released models' head; ``'mlp'`` is Linear → tanh → Linear (GLUE fine-tuning)."""

    kind = "classification"
    num_classes: int = 2
    query_dim: int = 1280
    head: Literal["linear", "mlp"] = "linear"

    def build(self) -> ClassificationOutput:
        return ClassificationOutput(self)


class ClassificationOutput(OutputAdapter):
    """Decoder output ``[B, 1, E]`` → logits ``[B, num_classes]``."""

    def __init__(self, cfg: ClassificationOutputConfig) -> None:
        super().__init__()
        if cfg.head not in ("linear", "mlp"):
            raise ValueError(f"head: expected 'linear' or 'mlp', got {cfg.head!r}")
        self.cfg = cfg
        self.query = nn.Parameter(torch.empty(1, cfg.query_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        if cfg.head == "mlp":
            self.head = nn.Sequential(
                nn.Linear(cfg.query_dim, cfg.query_dim), nn.Tanh(), nn.Linear(cfg.query_dim, cfg.num_classes)
            )
        else:
            self.head = nn.Linear(cfg.query_dim, cfg.num_classes)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: Context, **kwargs: Any) -> torch.Tensor:
        return self.query.expand(context["batch_size"], -1, -1)

    def forward(self, y: torch.Tensor, context: Context) -> torch.Tensor:
        return self.head(y[:, 0])
