"""Multimodal in and out over any named modalities (the official ``MultimodalPreprocessor`` /
``MultimodalDecoder``).

Each modality has its own adapter config. Inputs are padded with a learned per-modality vector to a common
width (the widest modality + ``min_padding``: 700 + 4 = 704 for the released Kinetics model) and concatenated
along positions in the order of the modality names, sorted (the official order: audio, image, label).

A modality can be masked: with probability p each of its positions is replaced by a learned mask token
(the whole padded vector; keys are not masked out), so the model has to infer it from the others. The
paper masks the label half of the time in training; the official colab and HF mask it always.

The queries mirror the inputs: each modality's queries padded to a common width (1024 + 2 = 1026), decoded
together, projected to ``output_dim`` (512) and handed to each modality's head. Modalities whose output is a
grid of points (audio, video) can be subsampled: ``subsampled_points={"image": idx, "audio": idx}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import torch
from torch import nn

from torchperceiver.adapters.points import PointOutput
from torchperceiver.core.adapter import (
    Context,
    Encoded,
    InputAdapter,
    InputAdapterConfig,
    OutputAdapter,
    OutputAdapterConfig,
)
from torchperceiver.core.checks import check_mask


@dataclass(frozen=True)
class MultimodalContext(Context):
    """Each modality's own context, by name."""

    modalities: Mapping[str, Context]


def _learned(*shape: int) -> nn.Parameter:
    return nn.Parameter(nn.init.trunc_normal_(torch.empty(*shape), std=0.02))


def _pad(x: torch.Tensor, padding: nn.Parameter) -> torch.Tensor:
    """``[B, n, c]`` → ``[B, n, c + padding width]``: the modality's learned vector fills the extra channels."""
    return torch.cat([x, padding.to(x.dtype).expand(x.shape[0], x.shape[1], -1)], dim=-1)


def _check_names(what: str, given: Mapping[str, Any], allowed: list[str]) -> None:
    unknown = sorted(str(name) for name in given if name not in allowed)
    if unknown:
        raise ValueError(f"{what}: expected keys among {allowed}, got unknown {unknown}")


@dataclass
class MultimodalInputConfig(InputAdapterConfig):
    """``modalities``: an input adapter config per name. ``mask_probs`` (training) and ``eval_mask_probs``
    (eval mode): per name, the probability that a position is replaced by its modality's mask token."""

    kind = "multimodal_input"
    context_type: ClassVar[type[Context]] = MultimodalContext
    modalities: Mapping[str, InputAdapterConfig] = field(default_factory=dict)
    mask_probs: Mapping[str, float] = field(default_factory=dict)
    eval_mask_probs: Mapping[str, float] = field(default_factory=dict)
    min_padding: int = 4

    @property
    def names(self) -> list[str]:
        return sorted(self.modalities)

    def build(self) -> MultimodalInput:
        return MultimodalInput(self)


class MultimodalInput(InputAdapter):
    """``{name: input}`` → ``x [B, M, width]``, the modalities' positions one after another.

    The released model: ``{"audio": [B, S], "image": [B, T, C, H, W], "label": [B, num_classes]}`` → M = S/16 +
    T·H·W/16 + 1 (52,097) positions of 704 channels.
    """

    def __init__(self, cfg: MultimodalInputConfig) -> None:
        super().__init__()
        if not cfg.modalities:
            raise ValueError("modalities: expected at least one named modality, got none")
        for what, probs in (("mask_probs", cfg.mask_probs), ("eval_mask_probs", cfg.eval_mask_probs)):
            _check_names(what, probs, cfg.names)
            bad = {name: p for name, p in probs.items() if not 0.0 <= p <= 1.0}
            if bad:
                raise ValueError(f"{what}: expected probabilities in [0, 1], got {bad}")
        self.cfg = cfg
        adapters = {name: cfg.modalities[name].build() for name in cfg.names}
        width = max(adapter.num_channels for adapter in adapters.values()) + cfg.min_padding
        self.width = width
        self.modalities = nn.ModuleDict(adapters)
        self.padding = nn.ParameterDict(
            {name: _learned(1, width - adapter.num_channels) for name, adapter in adapters.items()}
        )
        self.mask_tokens = nn.ParameterDict({name: _learned(1, width) for name in cfg.names})

    @property
    def num_channels(self) -> int:
        return self.width

    def _mask(self, name: str, x: torch.Tensor, prob: float) -> torch.Tensor:
        if prob == 0.0:
            return x
        hit = torch.rand(x.shape[:2], device=x.device) < prob
        return torch.where(hit[..., None], self.mask_tokens[name].to(x.dtype), x)

    def forward(self, inputs: Mapping[str, Any], attention_mask: torch.Tensor | None = None) -> Encoded:
        names = self.cfg.names
        if not isinstance(inputs, Mapping) or sorted(map(str, inputs)) != names:
            got = sorted(map(str, inputs)) if isinstance(inputs, Mapping) else type(inputs).__name__
            raise ValueError(f"inputs: expected a dict with keys {names}, got {got}")
        probs = self.cfg.mask_probs if self.training else self.cfg.eval_mask_probs
        parts, contexts = [], {}
        for name, adapter in self.modalities.items():
            x, _, contexts[name] = adapter(inputs[name], name=f"inputs['{name}']")
            x = _pad(x.to(self.padding[name].dtype), self.padding[name])
            parts.append(self._mask(name, x, probs.get(name, 0.0)))
        batch_sizes = {name: context.batch_size for name, context in contexts.items()}
        if len(set(batch_sizes.values())) > 1:
            raise ValueError(f"inputs: expected one batch size for every modality, got {batch_sizes}")
        x = torch.cat(parts, dim=1)
        mask = check_mask("attention_mask", attention_mask, x.shape[:2])
        return Encoded(x, mask, MultimodalContext(x.shape[0], contexts))

    def example_inputs(self, batch_size: int = 1) -> tuple[dict[str, Any]]:
        return ({name: self._adapter(name).example_inputs(batch_size)[0] for name in self.modalities},)

    def _adapter(self, name: str) -> InputAdapter:
        return cast(InputAdapter, self.modalities[name])


@dataclass
class MultimodalOutputConfig(OutputAdapterConfig):
    """``modalities``: an output adapter config per name, each reading ``output_dim`` channels (its
    ``head_dim``). Every name must be a modality of the input."""

    kind = "multimodal_output"
    requires: ClassVar[type[Context]] = MultimodalContext
    modalities: Mapping[str, OutputAdapterConfig] = field(default_factory=dict)
    min_padding: int = 2
    output_dim: int = 512

    def check_input(self, input_cfg: InputAdapterConfig, where: str = "output_adapter") -> None:
        super().check_input(input_cfg, where)
        assert isinstance(input_cfg, MultimodalInputConfig)  # guaranteed by the check above
        _check_names(f"{where}.modalities", self.modalities, input_cfg.names)
        for name, cfg in self.modalities.items():
            cfg.check_input(input_cfg.modalities[name], f"{where}.modalities['{name}']")

    def build(self) -> MultimodalOutput:
        return MultimodalOutput(self)


class MultimodalOutput(OutputAdapter):
    """Queries ``[B, O, width]`` for the chosen output points → ``{name: output}``.

    Decoding everything gives each modality's whole output (released: ``audio [B, S]``, ``image [B, T, C, H, W]``,
    ``label [B, num_classes]``); ``subsampled_points={"image": idx, "audio": idx}`` decodes only those points
    (flat indices into T×H×W pixels and S/16 audio patches), giving ``image [B, n, C]`` and ``audio [B, m · 16]``.
    """

    def __init__(self, cfg: MultimodalOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        adapters = {name: cfg.modalities[name].build() for name in sorted(cfg.modalities)}
        self.width = max(adapter.query_channels for adapter in adapters.values()) + cfg.min_padding
        self.modalities = nn.ModuleDict(adapters)
        self.padding = nn.ParameterDict(
            {name: _learned(1, self.width - adapter.query_channels) for name, adapter in adapters.items()}
        )
        self.proj = nn.Linear(self.width, cfg.output_dim)

    @property
    def query_channels(self) -> int:
        return self.width

    @property
    def point_modalities(self) -> list[str]:
        """The modalities that can be subsampled (their outputs are grids of points)."""
        return [name for name, adapter in self.modalities.items() if isinstance(adapter, PointOutput)]

    def num_points(self, context: MultimodalContext) -> dict[str, int]:
        """How many points each subsampleable modality has in a full decode."""
        return {name: self.point_output(name).num_points(context.modalities[name]) for name in self.point_modalities}

    def point_output(self, name: str) -> PointOutput:
        return cast(PointOutput, self.modalities[name])

    def _output(self, name: str) -> Any:
        """A modality's output adapter (a ``PointOutput`` or one with ``num_queries(context)``)."""
        return self.modalities[name]

    def _points(self, subsampled_points: Mapping[str, torch.Tensor] | None) -> Mapping[str, torch.Tensor]:
        if subsampled_points is None:
            return {}
        if not isinstance(subsampled_points, Mapping):
            raise ValueError(
                f"subsampled_points: expected a dict with keys among {self.point_modalities}, "
                f"got {type(subsampled_points).__name__}"
            )
        _check_names("subsampled_points", subsampled_points, self.point_modalities)
        return subsampled_points

    def _modality_args(self, name: str, points: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        if name not in self.point_modalities:
            return {}
        return {"subsampled_points": points.get(name)}

    def queries(  # type: ignore[override]
        self,
        context: MultimodalContext,
        subsampled_points: Mapping[str, torch.Tensor] | None = None,
        **query_args: Any,
    ) -> torch.Tensor:
        """A point modality missing from ``subsampled_points`` is decoded whole; others always are."""
        if query_args:
            raise ValueError(f"query arguments: expected only subsampled_points, got {sorted(query_args)}")
        points = self._points(subsampled_points)
        parts = []
        for name in self.modalities:
            extra = {"points_name": f"subsampled_points['{name}']"} if name in self.point_modalities else {}
            q = self._output(name).queries(context.modalities[name], **self._modality_args(name, points), **extra)
            parts.append(_pad(q, self.padding[name]))
        return torch.cat(parts, dim=1)

    def forward(  # type: ignore[override]
        self,
        y: torch.Tensor,
        context: MultimodalContext,
        subsampled_points: Mapping[str, torch.Tensor] | None = None,
        **query_args: Any,
    ) -> dict[str, torch.Tensor]:
        points = self._points(subsampled_points)
        sizes = [
            self._output(name).num_queries(context.modalities[name], **self._modality_args(name, points))
            for name in self.modalities
        ]
        pieces = self.proj(y).split(sizes, dim=1)
        return {
            name: adapter(piece, context.modalities[name], **self._modality_args(name, points))
            for (name, adapter), piece in zip(self.modalities.items(), pieces, strict=True)
        }
