"""Video in (space-time patches ⊕ 3-D Fourier features) and out (pixels from per-pixel queries).

The multimodal autoencoder reads 16 frames of 224×224 RGB in 1×4×4 patches (16×56×56 positions of 48
values) and decodes one query per *pixel* (16×224×224). Input and output Fourier features share one
maximum resolution, the patch grid (16, 56, 56), as in the official code and HF.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any, ClassVar

import torch
from torch import nn

from torchperceiver.adapters.points import PointOutput
from torchperceiver.core.adapter import Context, Encoded, InputAdapter, InputAdapterConfig, OutputAdapterConfig
from torchperceiver.core.checks import check_floating, check_mask, check_rank, check_size, check_tensor
from torchperceiver.core.position import FourierPositions


def space_time_to_depth(video: torch.Tensor, patch_size: Sequence[int]) -> torch.Tensor:
    """``[B, T, C, H, W]`` → channels-last ``[B, T/pt, H/ph, W/pw, pt·ph·pw·C]``.

    Each position's channels are ordered (frame, patch row, patch column, colour), the official layout, so
    released weights apply unchanged.
    """
    batch, frames, channels, height, width = video.shape
    pt, ph, pw = patch_size
    x = video.reshape(batch, frames // pt, pt, channels, height // ph, ph, width // pw, pw)
    x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)
    return x.reshape(batch, frames // pt, height // ph, width // pw, pt * ph * pw * channels)


def check_video(name: str, video: torch.Tensor, channels: int, patch_size: Sequence[int]) -> None:
    check_tensor(name, video)
    check_rank(name, video, 5, "[batch, frames, channels, height, width]")
    check_floating(name, video)
    check_size(name, video, 2, channels, "channels")
    size = tuple(video.shape[1:2]) + tuple(video.shape[3:])
    if any(n == 0 or n % p for n, p in zip(size, patch_size, strict=True)):
        raise ValueError(
            f"{name}: expected frames × height × width to be positive multiples of the patch size "
            f"{tuple(patch_size)}, got {size}"
        )


@dataclass(frozen=True)
class VideoContext(Context):
    """``video_size``: (frames, height, width) of the input video."""

    video_size: tuple[int, int, int]


@dataclass
class VideoInputConfig(InputAdapterConfig):
    """``patch_size``: (frames, rows, columns) of one space-time patch."""

    kind = "video_input"
    context_type: ClassVar[type[Context]] = VideoContext
    in_channels: int = 3
    patch_size: tuple[int, int, int] = (1, 4, 4)
    num_bands: int = 32
    max_resolution: tuple[int, int, int] = (16, 56, 56)

    @property
    def num_channels(self) -> int:
        return (
            prod(self.patch_size) * self.in_channels
            + FourierPositions(self.num_bands, self.max_resolution).num_channels
        )

    def build(self) -> VideoInput:
        return VideoInput(self)


class VideoInput(InputAdapter):
    """``video [B, T, C, H, W]`` → ``x [B, T·H·W / prod(patch), patch values + C_fourier]`` (243 channels released)."""

    def __init__(self, cfg: VideoInputConfig) -> None:
        super().__init__()
        if len(cfg.patch_size) != 3 or len(cfg.max_resolution) != 3:
            raise ValueError(
                f"patch_size, max_resolution: expected 3 values each (frames, height, width), got "
                f"{tuple(cfg.patch_size)} and {tuple(cfg.max_resolution)}"
            )
        self.cfg = cfg
        self.positions = FourierPositions(cfg.num_bands, cfg.max_resolution)

    @property
    def num_channels(self) -> int:
        return self.cfg.num_channels

    def forward(
        self, video: torch.Tensor, attention_mask: torch.Tensor | None = None, *, name: str = "video"
    ) -> Encoded:
        """``name`` is the argument named in errors (the multimodal model passes ``inputs['image']``)."""
        check_video(name, video, self.cfg.in_channels, self.cfg.patch_size)
        batch = video.shape[0]
        patches = space_time_to_depth(video, self.cfg.patch_size)
        grid = patches.shape[1:4]
        patches = patches.flatten(1, 3)
        mask = check_mask("attention_mask", attention_mask, patches.shape[:2])
        pos = self.positions(grid, device=video.device).to(video.dtype)
        x = torch.cat([patches, pos.expand(batch, -1, -1)], dim=-1)
        frames, _, height, width = video.shape[1:]
        return Encoded(x, mask, VideoContext(batch, (frames, height, width)))

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor]:
        """A video whose patch grid is ``max_resolution``, values in [-1, 1]."""
        frames, height, width = (n * p for n, p in zip(self.cfg.max_resolution, self.cfg.patch_size, strict=True))
        return (torch.rand(batch_size, frames, self.cfg.in_channels, height, width) * 2 - 1,)


@dataclass
class VideoOutputConfig(OutputAdapterConfig):
    """``head_dim``: the width the pixel head reads (``None``: the query width, for a decoder of its own)."""

    kind = "video_output"
    requires: ClassVar[type[Context]] = VideoContext
    out_channels: int = 3
    num_bands: int = 32
    max_resolution: tuple[int, int, int] = (16, 56, 56)
    head_dim: int | None = None

    def build(self) -> VideoOutput:
        return VideoOutput(self)


class VideoOutput(PointOutput):
    """One Fourier query per pixel of the input video.

    By default every pixel is decoded and the output is a video ``[B, T, C, H, W]``; with
    ``subsampled_points`` (flat indices into T×H×W) only those pixels are, as ``[B, n, C]``.
    """

    def __init__(self, cfg: VideoOutputConfig) -> None:
        super().__init__()
        if len(cfg.max_resolution) != 3:
            raise ValueError(f"max_resolution: expected 3 values (frames, height, width), got {cfg.max_resolution}")
        self.cfg = cfg
        self.positions = FourierPositions(cfg.num_bands, cfg.max_resolution)
        self.head = nn.Linear(cfg.head_dim or self.positions.num_channels, cfg.out_channels)

    def grid(self, context: VideoContext) -> tuple[int, int, int]:  # type: ignore[override]
        return context.video_size

    def whole(self, pixels: torch.Tensor, context: VideoContext) -> torch.Tensor:  # type: ignore[override]
        """Every pixel in flat order ``[B, T·H·W, C]`` → ``[B, T, C, H, W]``."""
        return pixels.unflatten(1, context.video_size).permute(0, 1, 4, 2, 3)

    def forward(  # type: ignore[override]
        self, y: torch.Tensor, context: VideoContext, subsampled_points: torch.Tensor | None = None, **query_args: Any
    ) -> torch.Tensor:
        pixels = self.head(y)
        return self.whole(pixels, context) if subsampled_points is None else pixels
