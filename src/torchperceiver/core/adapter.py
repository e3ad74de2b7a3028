"""The two seams between a modality and the modality-agnostic core.

An ``InputAdapter`` turns raw input into ``x [B, M, C]`` (+ a key mask) and a typed, immutable ``Context``
(what the output side may need to know about the input: batch size, sequence length, image size…). An
``OutputAdapter`` builds the decoder queries ``[B, O, E]`` from that context and turns the decoder output into
the task's output. Each output config declares the context class it ``requires`` and each input config the
one it provides (``context_type``), so a model whose two sides do not fit fails when it is built, not in the
middle of a forward pass.

Adapter configs are dataclasses with a ``kind``; every subclass registers itself under its kind, so a whole
architecture (nested adapters included) round-trips through ``config.json``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from torchperceiver.core.validate import check_dataclass
from torchperceiver.registry import Registry


@dataclass(frozen=True)
class Context:
    """What every input tells the output side: the batch size."""

    batch_size: int


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

    @abstractmethod
    def example_inputs(self, batch_size: int = 1) -> tuple[Any, ...]:
        """Random positional arguments valid for ``model(*args)`` at the configured sizes."""


class OutputAdapter(nn.Module, ABC):
    @property
    @abstractmethod
    def query_channels(self) -> int:
        """Width E of the decoder queries (and of the decoder output)."""

    @abstractmethod
    def queries(self, context: Context, **query_args: Any) -> torch.Tensor:
        """Decoder queries ``[B, O, E]``; ``query_args`` (e.g. ``subsampled_points``) choose which outputs."""

    @abstractmethod
    def forward(self, y: torch.Tensor, context: Context, **query_args: Any) -> Any:
        """The task's output from the decoder output ``y [B, O, E]`` (given the same ``query_args``)."""


ADAPTERS: Registry[type[AdapterConfig]] = Registry("adapter kind")


@dataclass
class AdapterConfig(ABC):
    """Base of every adapter config; a subclass that sets ``kind`` is registered under it."""

    kind: ClassVar[str]

    def __post_init__(self) -> None:
        check_dataclass(self, getattr(self, "kind", type(self).__name__))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            ADAPTERS.add(cls.kind, cls)

    @abstractmethod
    def build(self) -> nn.Module: ...


@dataclass
class InputAdapterConfig(AdapterConfig):
    #: The context class the built adapter's ``forward`` returns.
    context_type: ClassVar[type[Context]] = Context

    @abstractmethod
    def build(self) -> InputAdapter: ...


@dataclass
class OutputAdapterConfig(AdapterConfig):
    #: The context class this output needs from the input side (``Context``: any input will do).
    requires: ClassVar[type[Context]] = Context

    @abstractmethod
    def build(self) -> OutputAdapter: ...

    def check_input(self, input_cfg: InputAdapterConfig, where: str = "output_adapter") -> None:
        """Raise if ``input_cfg``'s context is not what this output needs."""
        if not issubclass(input_cfg.context_type, self.requires):
            raise ValueError(
                f"{where}: {self.kind!r} needs a {self.requires.__name__} from the input side, but input adapter "
                f"{input_cfg.kind!r} provides a {input_cfg.context_type.__name__}"
            )
