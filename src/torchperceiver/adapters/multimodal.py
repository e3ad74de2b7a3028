"""Multimodal in and out: audio, video and a label as one input array and one set of decoder queries.

The Kinetics autoencoder (paper §4.3, official colab). Each modality's input features are padded with a
learned per-modality vector to a common width (the widest modality + ``min_padding``: 700 + 4 = 704 for
the released model) and concatenated along positions in alphabetical order: audio, image, label.

A modality can be masked: with probability p each of its positions is replaced by a learned mask token
(the whole padded vector; keys are not masked out), so the model has to infer it from the others. The
paper masks the label half of the time in training; the official colab and HF mask it always.

The queries mirror the inputs: per-modality queries (Fourier features of the output points; a learned
vector for the label) padded to a common width (1024 + 2 = 1026), decoded together, projected to
``output_dim`` (512) and split into per-modality heads: 16 samples per audio patch, 3 values per pixel,
700 label logits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from torchperceiver.adapters.audio import AudioInputConfig, AudioOutputConfig
from torchperceiver.adapters.label import LabelInputConfig, LabelOutputConfig
from torchperceiver.adapters.video import VideoInputConfig, VideoOutputConfig
from torchperceiver.core.adapter import AdapterConfig, Context, Encoded, InputAdapter, OutputAdapter
from torchperceiver.core.checks import check_mask

MODALITIES = ("audio", "image", "label")  # alphabetical: the official concatenation order
SUBSAMPLED = ("audio", "image")


def _learned(*shape: int) -> nn.Parameter:
    return nn.Parameter(nn.init.trunc_normal_(torch.empty(*shape), std=0.02))


def _pad(x: torch.Tensor, padding: nn.Parameter) -> torch.Tensor:
    """``[B, n, c]`` → ``[B, n, c + padding width]``: the modality's learned vector fills the extra channels."""
    return torch.cat([x, padding.to(x.dtype).expand(x.shape[0], x.shape[1], -1)], dim=-1)


def _check_modalities(inputs: Any) -> None:
    if not isinstance(inputs, Mapping):
        raise ValueError(f"inputs: expected a dict with keys {list(MODALITIES)}, got {type(inputs).__name__}")
    missing = [name for name in MODALITIES if name not in inputs]
    unknown = sorted(str(name) for name in inputs if name not in MODALITIES)
    if missing or unknown:
        raise ValueError(
            f"inputs: expected keys {list(MODALITIES)}, got {sorted(map(str, inputs))} "
            f"(missing {missing}, unknown {unknown})"
        )


@dataclass
class MultimodalInputConfig(AdapterConfig):
    """Audio patches, video patches and a one-hot label (defaults: the released Kinetics model).

    ``mask_probs`` (in training mode) and ``eval_mask_probs`` (in eval mode) give, for (audio, image, label),
    the probability that a position is replaced by its modality's mask token.
    """

    kind = "multimodal_input"
    samples_per_patch: int = 16
    audio_num_bands: int = 192
    audio_max_resolution: int = 30720
    in_channels: int = 3
    patch_size: tuple[int, int, int] = (1, 4, 4)
    image_num_bands: int = 32
    image_max_resolution: tuple[int, int, int] = (16, 56, 56)
    num_classes: int = 700
    min_padding: int = 4
    mask_probs: tuple[float, float, float] = (0.0, 0.0, 0.5)
    eval_mask_probs: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def modality_configs(self) -> dict[str, AdapterConfig]:
        return {
            "audio": AudioInputConfig(self.samples_per_patch, self.audio_num_bands, self.audio_max_resolution),
            "image": VideoInputConfig(
                self.in_channels, self.patch_size, self.image_num_bands, self.image_max_resolution
            ),
            "label": LabelInputConfig(self.num_classes),
        }

    @property
    def num_channels(self) -> int:
        return max(cfg.num_channels for cfg in self.modality_configs().values()) + self.min_padding

    def build(self) -> MultimodalInput:
        return MultimodalInput(self)


class MultimodalInput(InputAdapter):
    """``{"audio": [B, S], "image": [B, T, C, H, W], "label": [B, num_classes]}`` → ``x [B, M, 704]``.

    M = S/16 + T·H·W/16 + 1 (52,097 for the released shapes). The context holds each modality's own
    context under its name, for the queries.
    """

    def __init__(self, cfg: MultimodalInputConfig) -> None:
        super().__init__()
        for field, probs in (("mask_probs", cfg.mask_probs), ("eval_mask_probs", cfg.eval_mask_probs)):
            if len(probs) != len(MODALITIES) or not all(0.0 <= p <= 1.0 for p in probs):
                raise ValueError(f"{field}: expected 3 probabilities in [0, 1] for {MODALITIES}, got {tuple(probs)}")
        self.cfg = cfg
        self.modalities = nn.ModuleDict({name: sub.build() for name, sub in cfg.modality_configs().items()})
        width = cfg.num_channels
        self.padding = nn.ParameterDict(
            {name: _learned(1, width - adapter.num_channels) for name, adapter in self.modalities.items()}
        )
        self.mask_tokens = nn.ParameterDict({name: _learned(1, width) for name in MODALITIES})

    @property
    def num_channels(self) -> int:
        return self.cfg.num_channels

    def _mask(self, name: str, x: torch.Tensor, prob: float) -> torch.Tensor:
        if prob == 0.0:
            return x
        hit = torch.rand(x.shape[:2], device=x.device) < prob
        return torch.where(hit[..., None], self.mask_tokens[name].to(x.dtype), x)

    def forward(self, inputs: Mapping[str, torch.Tensor], attention_mask: torch.Tensor | None = None) -> Encoded:
        _check_modalities(inputs)
        probs = self.cfg.mask_probs if self.training else self.cfg.eval_mask_probs
        parts, contexts = [], {}
        for name, prob in zip(MODALITIES, probs, strict=True):
            x, _, contexts[name] = self.modalities[name](inputs[name], name=f"inputs['{name}']")
            x = _pad(x.to(self.padding[name].dtype), self.padding[name])
            parts.append(self._mask(name, x, prob))
        batch_sizes = {name: context["batch_size"] for name, context in contexts.items()}
        if len(set(batch_sizes.values())) > 1:
            raise ValueError(f"inputs: expected one batch size for every modality, got {batch_sizes}")
        x = torch.cat(parts, dim=1)
        mask = check_mask("attention_mask", attention_mask, x.shape[:2])
        return Encoded(x, mask, {"batch_size": x.shape[0], **contexts})


@dataclass
class MultimodalOutputConfig(AdapterConfig):
    """Per-modality queries and heads (defaults: the released Kinetics model)."""

    kind = "multimodal_output"
    samples_per_patch: int = 16
    audio_num_bands: int = 192
    audio_max_resolution: int = 30720
    out_channels: int = 3
    image_num_bands: int = 32
    image_max_resolution: tuple[int, int, int] = (16, 56, 56)
    num_classes: int = 700
    label_query_dim: int = 1024
    min_padding: int = 2
    output_dim: int = 512

    def modality_configs(self) -> dict[str, AdapterConfig]:
        return {
            "audio": AudioOutputConfig(
                self.samples_per_patch, self.audio_num_bands, self.audio_max_resolution, self.output_dim
            ),
            "image": VideoOutputConfig(
                self.out_channels, self.image_num_bands, self.image_max_resolution, self.output_dim
            ),
            "label": LabelOutputConfig(self.num_classes, self.label_query_dim, self.output_dim),
        }

    def build(self) -> MultimodalOutput:
        return MultimodalOutput(self)


class MultimodalOutput(OutputAdapter):
    """Queries ``[B, O, 1026]`` for the chosen output points → ``{"audio", "image", "label"}``.

    Decoding everything gives ``audio [B, S]``, ``image [B, T, C, H, W]`` and ``label [B, num_classes]``;
    ``subsampled_points={"image": idx, "audio": idx}`` decodes only those points (flat indices into
    T×H×W pixels and S/16 audio patches), giving ``image [B, n, C]`` and ``audio [B, m · 16]``.
    """

    def __init__(self, cfg: MultimodalOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.modalities = nn.ModuleDict({name: sub.build() for name, sub in cfg.modality_configs().items()})
        self.width = max(adapter.query_channels for adapter in self.modalities.values()) + cfg.min_padding
        self.padding = nn.ParameterDict(
            {name: _learned(1, self.width - adapter.query_channels) for name, adapter in self.modalities.items()}
        )
        self.proj = nn.Linear(self.width, cfg.output_dim)

    @property
    def query_channels(self) -> int:
        return self.width

    def num_points(self, context: Context) -> dict[str, int]:
        """How many points of audio (patches) and image (pixels) a full decode has."""
        return {name: self.modalities[name].num_points(context[name]) for name in SUBSAMPLED}

    def queries(
        self, context: Context, subsampled_points: Mapping[str, torch.Tensor] | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """A modality missing from ``subsampled_points`` is decoded whole; the label is always decoded.

        Records each modality's number of queries in ``context``, so ``forward`` can split the output.
        """
        if kwargs:
            raise ValueError(f"query arguments: expected only subsampled_points, got {sorted(kwargs)}")
        points = _check_subsampled(subsampled_points)
        parts = []
        for name, adapter in self.modalities.items():
            if name in SUBSAMPLED:
                q = adapter.queries(context[name], points.get(name), points_name=f"subsampled_points['{name}']")
            else:
                q = adapter.queries(context[name])
            parts.append(_pad(q, self.padding[name]))
        context["query_sizes"] = [q.shape[1] for q in parts]
        return torch.cat(parts, dim=1)

    def forward(self, y: torch.Tensor, context: Context) -> dict[str, torch.Tensor]:
        pieces = self.proj(y).split(context["query_sizes"], dim=1)
        return {
            name: adapter(piece, context[name])
            for (name, adapter), piece in zip(self.modalities.items(), pieces, strict=True)
        }


def _check_subsampled(points: Any) -> Mapping[str, torch.Tensor]:
    if points is None:
        return {}
    if not isinstance(points, Mapping):
        raise ValueError(
            f"subsampled_points: expected a dict with keys among {list(SUBSAMPLED)}, got {type(points).__name__}"
        )
    unknown = sorted(str(name) for name in points if name not in SUBSAMPLED)
    if unknown:
        raise ValueError(
            f"subsampled_points: expected keys among {list(SUBSAMPLED)} (the label is always decoded), got {unknown}"
        )
    return points
