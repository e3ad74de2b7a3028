"""Label in (a one-hot vector as one input position) and out (one learned query → class logits).

The multimodal autoencoder reads the Kinetics-700 label as a 700-channel position beside the video and
audio, and predicts it back from a learned 1024-channel query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from torchperceiver.core.adapter import AdapterConfig, Context, Encoded, InputAdapter, OutputAdapter
from torchperceiver.core.checks import check_floating, check_mask, check_rank, check_size, check_tensor


@dataclass
class LabelInputConfig(AdapterConfig):
    kind = "label_input"
    num_classes: int = 700

    @property
    def num_channels(self) -> int:
        return self.num_classes

    def build(self) -> LabelInput:
        return LabelInput(self)


class LabelInput(InputAdapter):
    """``label [B, num_classes]`` (one-hot or soft) → ``x [B, 1, num_classes]``."""

    def __init__(self, cfg: LabelInputConfig) -> None:
        super().__init__()
        self.cfg = cfg

    @property
    def num_channels(self) -> int:
        return self.cfg.num_channels

    def forward(
        self, label: torch.Tensor, attention_mask: torch.Tensor | None = None, *, name: str = "label"
    ) -> Encoded:
        """``name`` is the argument named in errors (the multimodal model passes ``inputs['label']``)."""
        check_tensor(name, label)
        check_rank(name, label, 2, "[batch, num_classes] (one-hot)")
        check_floating(name, label)
        check_size(name, label, 1, self.cfg.num_classes, "num_classes")
        mask = check_mask("attention_mask", attention_mask, (label.shape[0], 1))
        return Encoded(label[:, None, :], mask, {"batch_size": label.shape[0]})


@dataclass
class LabelOutputConfig(AdapterConfig):
    """``head_dim``: the width the logit head reads (``None``: ``query_dim``, for a decoder of its own)."""

    kind = "label_output"
    num_classes: int = 700
    query_dim: int = 1024
    head_dim: int | None = None

    def build(self) -> LabelOutput:
        return LabelOutput(self)


class LabelOutput(OutputAdapter):
    """One learned query; ``y [B, 1, head_dim]`` → logits ``[B, num_classes]``."""

    def __init__(self, cfg: LabelOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.query = nn.Parameter(torch.empty(1, cfg.query_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.head = nn.Linear(cfg.head_dim or cfg.query_dim, cfg.num_classes)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: Context, **kwargs: Any) -> torch.Tensor:
        if kwargs:
            raise ValueError(f"query arguments: expected none (the label is one query), got {sorted(kwargs)}")
        return self.query.expand(context["batch_size"], -1, -1)

    def forward(self, y: torch.Tensor, context: Context) -> torch.Tensor:
        return self.head(y[:, 0])
