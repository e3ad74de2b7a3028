"""The two seams between a modality and the modality-agnostic core.

An ``InputAdapter`` turns raw input into ``x [B, M, C]`` (+ a key mask) and a context dict; an
``OutputAdapter`` builds the decoder queries ``[B, O, E]`` from that context and turns the decoder
output ``[B, O, E]`` into the task's output. Adapter configs are dataclasses with a ``kind`` so a
model's whole architecture round-trips through JSON.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

Context = dict[str, Any]


class Encoded(NamedTuple):
    x: torch.Tensor
    mask: torch.Tensor | None
    context: Context


class InputAdapter(nn.Module, ABC):
    @property
    @abstractmethod
    def num_channels(self) -> int:
        """Width C of ``x``."""

    @abstractmethod
    def forward(self, inputs: Any, attention_mask: torch.Tensor | None = None) -> Encoded: ...


class OutputAdapter(nn.Module, ABC):
    @property
    @abstractmethod
    def query_channels(self) -> int:
        """Width E of the decoder queries (and of the decoder output)."""

    @abstractmethod
    def queries(self, context: Context, **kwargs: Any) -> torch.Tensor: ...

    @abstractmethod
    def forward(self, y: torch.Tensor, context: Context) -> Any: ...


@dataclass
class AdapterConfig(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def build(self) -> nn.Module: ...
