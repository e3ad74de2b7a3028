"""Labels: a one-hot vector as one input position, and classification out of one learned query.

The multimodal autoencoder reads the Kinetics-700 label as a 700-channel position beside the video and
audio and predicts it back; the image and text classifiers decode their class from one learned query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.core.adapter import (
    Context,
    Encoded,
    InputAdapter,
    InputAdapterConfig,
    OutputAdapter,
    OutputAdapterConfig,
)
from torchperceiver.core.checks import (
    check_floating,
    check_mask,
    check_no_query_args,
    check_rank,
    check_size,
    check_tensor,
)

HEADS = ("linear", "mlp")


@dataclass
class LabelInputConfig(InputAdapterConfig):
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
        return Encoded(label[:, None, :], mask, Context(label.shape[0]))

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor]:
        classes = torch.randint(self.cfg.num_classes, (batch_size,))
        return (F.one_hot(classes, self.cfg.num_classes).float(),)


@dataclass
class ClassificationOutputConfig(OutputAdapterConfig):
    """One learned query → class logits.

    ``head='linear'`` is the released models' head; ``'mlp'`` is Linear → tanh → Linear (GLUE fine-tuning).
    ``head_dim``: the width the head reads (``None``: ``query_dim``; the multimodal model projects every
    modality's decoder output to a common width first). ``labels``: class names, saved with the model.
    """

    kind = "classification"
    num_classes: int = 2
    query_dim: int = 1280
    head: Literal["linear", "mlp"] = "linear"
    head_dim: int | None = None
    labels: tuple[str, ...] = ()

    def build(self) -> ClassificationOutput:
        return ClassificationOutput(self)


class ClassificationOutput(OutputAdapter):
    """Decoder output ``[B, 1, head_dim]`` → logits ``[B, num_classes]``."""

    def __init__(self, cfg: ClassificationOutputConfig) -> None:
        super().__init__()
        if cfg.head not in HEADS:
            raise ValueError(f"head: expected one of {HEADS}, got {cfg.head!r}")
        if cfg.labels and len(cfg.labels) != cfg.num_classes:
            raise ValueError(f"labels: expected {cfg.num_classes} class names (num_classes), got {len(cfg.labels)}")
        self.cfg = cfg
        self.query = nn.Parameter(torch.empty(1, cfg.query_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        width = cfg.head_dim or cfg.query_dim
        if cfg.head == "mlp":
            self.head: nn.Module = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, cfg.num_classes))
        else:
            self.head = nn.Linear(width, cfg.num_classes)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def num_queries(self, context: Context, **query_args: Any) -> int:
        check_no_query_args(query_args, "a class is one query")
        return 1

    def queries(self, context: Context, **query_args: Any) -> torch.Tensor:
        check_no_query_args(query_args, "a class is one query")
        return self.query.expand(context.batch_size, -1, -1)

    def forward(self, y: torch.Tensor, context: Context, **query_args: Any) -> torch.Tensor:
        return self.head(y[:, 0])
