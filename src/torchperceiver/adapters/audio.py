"""Audio in (raw samples in patches ⊕ 1-D Fourier features) and out (samples from per-patch queries).

The multimodal autoencoder reads 30,720 samples (16 video frames of 48 kHz audio at 25 fps) as 1,920
patches of 16 samples. Positions index patches, but the Fourier features' maximum resolution is the number
of *samples* (30,720), as in the official code and HF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from torchperceiver.adapters.points import PointOutput
from torchperceiver.core.adapter import Context, Encoded, InputAdapter, InputAdapterConfig, OutputAdapterConfig
from torchperceiver.core.checks import check_floating, check_mask, check_rank, check_tensor
from torchperceiver.core.position import FourierPositions


def audio_patches(name: str, audio: torch.Tensor, samples_per_patch: int) -> torch.Tensor:
    """``[B, S]`` → ``[B, S / p, p]``; ``S`` must be a positive multiple of ``p``."""
    check_tensor(name, audio)
    check_rank(name, audio, 2, "[batch, samples]")
    check_floating(name, audio)
    num_samples = audio.shape[1]
    if num_samples == 0 or num_samples % samples_per_patch:
        raise ValueError(
            f"{name}: expected a number of samples that is a positive multiple of "
            f"samples_per_patch={samples_per_patch}, got {num_samples}"
        )
    return audio.unflatten(1, (num_samples // samples_per_patch, samples_per_patch))


@dataclass(frozen=True)
class AudioContext(Context):
    num_samples: int


@dataclass
class AudioInputConfig(InputAdapterConfig):
    kind = "audio_input"
    context_type: ClassVar[type[Context]] = AudioContext
    samples_per_patch: int = 16
    num_bands: int = 192
    max_resolution: int = 30720

    @property
    def num_channels(self) -> int:
        return self.samples_per_patch + FourierPositions(self.num_bands, (self.max_resolution,)).num_channels

    def build(self) -> AudioInput:
        return AudioInput(self)


class AudioInput(InputAdapter):
    """``audio [B, S]`` → ``x [B, S / p, p + C_fourier]`` (401 channels for the released model)."""

    def __init__(self, cfg: AudioInputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.positions = FourierPositions(cfg.num_bands, (cfg.max_resolution,))

    @property
    def num_channels(self) -> int:
        return self.cfg.num_channels

    def forward(
        self, audio: torch.Tensor, attention_mask: torch.Tensor | None = None, *, name: str = "audio"
    ) -> Encoded:
        """``name`` is the argument named in errors (the multimodal model passes ``inputs['audio']``)."""
        patches = audio_patches(name, audio, self.cfg.samples_per_patch)
        batch, num_patches = patches.shape[:2]
        mask = check_mask("attention_mask", attention_mask, (batch, num_patches))
        pos = self.positions((num_patches,), device=audio.device).to(audio.dtype)
        x = torch.cat([patches, pos.expand(batch, -1, -1)], dim=-1)
        return Encoded(x, mask, AudioContext(batch, audio.shape[1]))

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor]:
        """``max_resolution`` samples of noise in [-1, 1]."""
        return (torch.rand(batch_size, self.cfg.max_resolution) * 2 - 1,)


@dataclass
class AudioOutputConfig(OutputAdapterConfig):
    """``head_dim``: the width the sample head reads (``None``: the query width, for a decoder of its own)."""

    kind = "audio_output"
    requires: ClassVar[type[Context]] = AudioContext
    samples_per_patch: int = 16
    num_bands: int = 192
    max_resolution: int = 30720
    head_dim: int | None = None

    def build(self) -> AudioOutput:
        return AudioOutput(self)


class AudioOutput(PointOutput):
    """One Fourier query per patch; ``y [B, n, head_dim]`` → samples ``[B, n · p]``.

    ``subsampled_points`` (flat patch indices) decodes only those patches; by default every patch of the
    input (``S / p``) is decoded, so the output has the input's length.
    """

    def __init__(self, cfg: AudioOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.positions = FourierPositions(cfg.num_bands, (cfg.max_resolution,))
        self.head = nn.Linear(cfg.head_dim or self.positions.num_channels, cfg.samples_per_patch)

    def grid(self, context: AudioContext) -> tuple[int]:  # type: ignore[override]
        num_samples, patch = context.num_samples, self.cfg.samples_per_patch
        if num_samples % patch:
            raise ValueError(f"samples_per_patch: expected a divisor of the input's {num_samples} samples, got {patch}")
        return (num_samples // patch,)

    def forward(self, y: torch.Tensor, context: Context, **query_args: Any) -> torch.Tensor:
        return self.head(y).flatten(1)
