"""Optical flow in (two frames → 3×3 patches → Linear ⊕ 2-D Fourier features) and out (flow in pixels).

The released model sees every pixel of a 368×496 frame pair: 182,528 input positions, each one the two
frames' 3×3 neighbourhoods (54 values) mapped to 64 channels and concatenated with 258 Fourier channels.
The decoder queries are those same 322-channel input features, so the output has one flow vector per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

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
from torchperceiver.core.checks import check_floating, check_no_query_args, check_rank, check_size, check_tensor
from torchperceiver.core.position import FourierPositions

NUM_FRAMES = 2
IMAGE_CHANNELS = 3
PATCH = 3
PATCH_VALUES = NUM_FRAMES * PATCH * PATCH * IMAGE_CHANNELS  # 54


def flow_patches(frames: torch.Tensor) -> torch.Tensor:
    """``[B, 2, 3, H, W]`` → ``[B, H·W, 54]``: each pixel's zero-padded 3×3 neighbourhood in both frames.

    Channel order is the official one (TF ``extract_patches``): frame, then patch row, patch column, colour,
    so released weights apply unchanged.
    """
    batch, num_frames, channels, height, width = frames.shape
    padded = F.pad(frames.flatten(0, 1), (1, 1, 1, 1))
    # unfold gives (colour, row, column) per pixel; reorder to (row, column, colour).
    patches = F.unfold(padded, PATCH).view(batch, num_frames, channels, PATCH * PATCH, height * width)
    return patches.permute(0, 4, 1, 3, 2).reshape(batch, height * width, -1)


@dataclass(frozen=True)
class FlowContext(Context):
    """The frame size and the input features, which are also the decoder's queries (one per pixel)."""

    image_size: tuple[int, int]
    features: torch.Tensor


def standardize_frames(frames: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    """``[B, 2, 3, H, W]`` with every colour channel of every frame shifted and scaled to zero mean and unit
    standard deviation over the frame (``eps`` keeps flat frames finite). A global brightness, contrast or
    colour change between the two frames disappears, and the small motion signal is not swamped by it."""
    mean = frames.mean(dim=(-2, -1), keepdim=True)
    std = frames.std(dim=(-2, -1), keepdim=True)
    return (frames - mean) / (std + eps)


@dataclass
class FlowInputConfig(InputAdapterConfig):
    """``train_size`` is both the only accepted frame size and the Fourier features' maximum resolution.

    ``normalize``: standardise each colour channel of each frame before taking patches (``standardize_frames``;
    not in the released model, which reads [-1, 1] frames as they are). Small models trained from scratch need
    it: without it the photometric change between the frames swamps the motion signal (docs/flow.md).
    """

    kind = "flow_input"
    context_type: ClassVar[type[Context]] = FlowContext
    train_size: tuple[int, int] = (368, 496)
    num_bands: int = 64
    patch_dim: int = 64
    normalize: bool = False

    @property
    def num_channels(self) -> int:
        return self.patch_dim + FourierPositions(self.num_bands, self.train_size).num_channels

    def build(self) -> FlowInput:
        return FlowInput(self)


class FlowInput(InputAdapter):
    """``frames [B, 2, 3, H, W]`` in [-1, 1] → ``x [B, H·W, patch_dim + 258]``; the context carries ``x``.

    Only frames of ``train_size`` are accepted: the Fourier frequencies are tied to that grid and a model
    trained at it has never seen another one. Larger images go through ``torchperceiver.predict_flow``.
    """

    def __init__(self, cfg: FlowInputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_proj = nn.Linear(PATCH_VALUES, cfg.patch_dim)
        self.positions = FourierPositions(cfg.num_bands, cfg.train_size)

    @property
    def num_channels(self) -> int:
        return self.cfg.num_channels

    def _check(self, frames: torch.Tensor) -> None:
        check_tensor("frames", frames)
        check_rank("frames", frames, 5, "[batch, 2, 3, height, width]")
        check_floating("frames", frames)
        check_size("frames", frames, 1, NUM_FRAMES, "number of frames")
        check_size("frames", frames, 2, IMAGE_CHANNELS, "colour channels")
        if tuple(frames.shape[3:]) != tuple(self.cfg.train_size):
            raise ValueError(
                f"frames: expected height × width = train_size {tuple(self.cfg.train_size)}, got "
                f"{tuple(frames.shape[3:])}; use torchperceiver.predict_flow to tile other sizes"
            )

    def forward(self, frames: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Encoded:
        self._check(frames)
        if attention_mask is not None:
            raise ValueError("attention_mask: expected None (every pixel of a frame pair is real), got a tensor")
        batch, height, width = frames.shape[0], frames.shape[3], frames.shape[4]
        if self.cfg.normalize:
            frames = standardize_frames(frames)
        features = self.patch_proj(flow_patches(frames))
        positions = self.positions((height, width), device=frames.device).to(features.dtype)
        x = torch.cat([features, positions.expand(batch, -1, -1)], dim=-1)
        return Encoded(x, None, FlowContext(batch, (height, width), x))

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor]:
        """A frame pair of ``train_size`` with values in [-1, 1]."""
        return (torch.rand(batch_size, NUM_FRAMES, IMAGE_CHANNELS, *self.cfg.train_size) * 2 - 1,)


@dataclass
class FlowOutputConfig(OutputAdapterConfig):
    """``pixel_scale`` turns the head's output into pixels: the official model divides by 100 and its colab
    multiplies by 20, so 0.2."""

    kind = "flow_output"
    requires: ClassVar[type[Context]] = FlowContext
    query_dim: int = 322
    pixel_scale: float = 0.2

    def build(self) -> FlowOutput:
        return FlowOutput(self)


class FlowOutput(OutputAdapter):
    """Queries are the input features (no learned queries); ``y [B, H·W, E]`` → flow ``[B, 2, H, W]`` in pixels."""

    def __init__(self, cfg: FlowOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.head = nn.Linear(cfg.query_dim, 2)

    def init_official_(self) -> None:
        """The official flow decoder's output layer starts at zero (``output_w_init=jnp.zeros``)."""
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: FlowContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        check_no_query_args(query_args, "flow decodes every pixel")
        return context.features

    def forward(self, y: torch.Tensor, context: FlowContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        height, width = context.image_size
        flow = self.head(y) * self.cfg.pixel_scale
        return flow.transpose(1, 2).unflatten(2, (height, width))
