"""Images in: ``[B, C, H, W]`` floats → one input position per grid cell, features ⊕ position features.

The four preprocessings of the official ``ImagePreprocessor``: ``pixels`` (the raw values, optionally every
``spatial_downsample``-th row and column), ``conv1x1`` (a 1×1 conv with stride ``spatial_downsample``),
``conv`` (the ImageNet stem, 4× smaller per layer: downsample.py) and ``patches`` (space-to-depth blocks of
``spatial_downsample``, optionally mapped by a linear layer). Positions are 2-D Fourier features of the
grid (any image size) or a learned table (one image size), optionally projected by a linear layer, and
are concatenated after the features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import nn

from torchperceiver.adapters.downsample import ConvDownsample
from torchperceiver.adapters.patches import space_to_depth
from torchperceiver.core.adapter import Context, Encoded, InputAdapter, InputAdapterConfig
from torchperceiver.core.checks import check_floating, check_mask, check_rank, check_size, check_tensor
from torchperceiver.core.position import FourierPositions, LearnedPositions

Prep = Literal["pixels", "conv1x1", "conv", "patches"]
PositionEncoding = Literal["fourier", "learned"]
PREPS = ("pixels", "conv1x1", "conv", "patches")
POSITION_ENCODINGS = ("fourier", "learned")


@dataclass(frozen=True)
class ImageContext(Context):
    """``grid``: the ``(h, w)`` grid of input positions (e.g. to draw attention maps over the image)."""

    grid: tuple[int, int]


@dataclass
class ImageInputConfig(InputAdapterConfig):
    """Image input settings (names follow the official ``ImagePreprocessor``).

    ``out_channels``: width of the ``conv1x1``/``conv`` output and of the linear layer after patching.
    ``spatial_downsample``: a power of 4 for ``conv`` (one conv layer per factor 4), the patch size for
    ``patches``. ``image_size``: the ``(H, W)`` a learned table is made for (required with ``learned``).
    ``project_pos_dim``: if set, a linear layer maps the position features to this width (the released
    learned-position model has one, 256 → 256). ``hf_conv_padding``: for ``conv`` only, reproduce HF's
    padding (conv padded 3 on both sides, unpadded max-pool: 55×55 for a 224 image instead of the
    official 56×56); set by ``from_transformers``, leave it off otherwise.
    """

    kind = "image"
    context_type: ClassVar[type[Context]] = ImageContext
    in_channels: int = 3
    prep: Prep = "pixels"
    spatial_downsample: int = 1
    out_channels: int = 64
    conv_after_patching: bool = False
    position_encoding: PositionEncoding = "fourier"
    num_bands: int = 64
    max_resolution: tuple[int, int] = (224, 224)
    concat_pos: bool = True
    sine_only: bool = False
    image_size: tuple[int, int] | None = None
    learned_channels: int = 256
    project_pos_dim: int | None = None
    hf_conv_padding: bool = False

    def build(self) -> ImageInput:
        return ImageInput(self)


def _validate(cfg: ImageInputConfig) -> None:
    if cfg.prep not in PREPS:
        raise ValueError(f"prep: expected one of {PREPS}, got {cfg.prep!r}")
    if cfg.position_encoding not in POSITION_ENCODINGS:
        raise ValueError(f"position_encoding: expected one of {POSITION_ENCODINGS}, got {cfg.position_encoding!r}")
    ds = cfg.spatial_downsample
    if ds < 1:
        raise ValueError(f"spatial_downsample: expected >= 1, got {ds}")
    if cfg.prep == "conv" and (ds < 4 or 4 ** round(math.log(ds, 4)) != ds):
        raise ValueError(f"spatial_downsample: expected a power of 4 (>= 4) with prep='conv', got {ds}")
    if cfg.position_encoding == "learned" and (cfg.image_size is None or len(cfg.image_size) != 2):
        raise ValueError(f"image_size: expected (height, width) with learned positions, got {cfg.image_size!r}")
    if cfg.position_encoding == "fourier" and len(cfg.max_resolution) != 2:
        raise ValueError(f"max_resolution: expected (height, width), got {cfg.max_resolution!r}")


class ImageInput(InputAdapter):
    """``images [B, C, H, W]`` (float) → ``x [B, h·w, features + positions]`` on the preprocessed ``h×w`` grid."""

    def __init__(self, cfg: ImageInputConfig) -> None:
        super().__init__()
        _validate(cfg)
        self.cfg = cfg
        ds = cfg.spatial_downsample
        self.conv1x1 = nn.Conv2d(cfg.in_channels, cfg.out_channels, 1, stride=ds) if cfg.prep == "conv1x1" else None
        self.stem = (
            ConvDownsample(cfg.in_channels, cfg.out_channels, round(math.log(ds, 4)), cfg.hf_conv_padding)
            if cfg.prep == "conv"
            else None
        )
        patch_proj = cfg.prep == "patches" and cfg.conv_after_patching
        self.patch_proj = nn.Linear(cfg.in_channels * ds * ds, cfg.out_channels) if patch_proj else None
        self.positions: LearnedPositions | FourierPositions
        if cfg.position_encoding == "learned":
            assert cfg.image_size is not None  # checked by _validate
            height, width = self.grid_size(*cfg.image_size)
            self.positions = LearnedPositions(height * width, cfg.learned_channels)
        else:
            self.positions = FourierPositions(cfg.num_bands, cfg.max_resolution, cfg.concat_pos, cfg.sine_only)
        proj = cfg.project_pos_dim
        self.pos_proj = nn.Linear(self.positions.num_channels, proj) if proj else None

    @property
    def feature_channels(self) -> int:
        cfg = self.cfg
        if cfg.prep == "pixels":
            return cfg.in_channels
        if cfg.prep == "patches" and not cfg.conv_after_patching:
            return cfg.in_channels * cfg.spatial_downsample**2
        return cfg.out_channels

    @property
    def num_channels(self) -> int:
        return self.feature_channels + (self.cfg.project_pos_dim or self.positions.num_channels)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(h, w)`` grid of input positions for an image of ``height × width``."""
        ds = self.cfg.spatial_downsample
        if self.stem is not None:
            return self.stem.output_size(height), self.stem.output_size(width)
        if self.cfg.prep == "patches":
            return height // ds, width // ds
        return math.ceil(height / ds), math.ceil(width / ds)

    def _check(self, images: torch.Tensor) -> None:
        check_tensor("images", images)
        check_rank("images", images, 4, "[batch, channels, height, width]")
        check_floating("images", images)
        check_size("images", images, 1, self.cfg.in_channels, "channels")
        height, width = images.shape[-2:]
        if min(images.shape[0], height, width) < 1:
            raise ValueError(
                f"images: expected at least 1 image of at least 1×1 pixels, got shape {tuple(images.shape)}"
            )
        ds = self.cfg.spatial_downsample
        if self.cfg.prep == "patches" and (height < ds or width < ds or height % ds or width % ds):
            raise ValueError(
                f"images: expected height and width multiples of the patch size {ds}, got {height}×{width}"
            )
        if self.stem is not None and min(height, width) < self.stem.min_size:
            raise ValueError(
                f"images: expected height and width >= {self.stem.min_size} (conv kernel), got {height}×{width}"
            )
        size = self.cfg.image_size
        if size is not None and self.cfg.position_encoding == "learned" and (height, width) != tuple(size):
            raise ValueError(
                f"images: expected height×width {size[0]}×{size[1]} (fixed by the learned position table), "
                f"got {height}×{width}"
            )

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        """Channels-last features ``[B, h, w, C]``."""
        if self.cfg.prep == "patches":
            x = space_to_depth(images, self.cfg.spatial_downsample)
            return self.patch_proj(x) if self.patch_proj is not None else x
        if self.conv1x1 is not None:
            x = self.conv1x1(images)
        elif self.stem is not None:
            x = self.stem(images)
        else:
            x = images[:, :, :: self.cfg.spatial_downsample, :: self.cfg.spatial_downsample]
        return x.permute(0, 2, 3, 1)

    def _positions(self, grid: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        if isinstance(self.positions, LearnedPositions):
            pos = self.positions()
        else:
            pos = self.positions(grid, device=like.device)
        pos = pos.to(like.dtype)
        return self.pos_proj(pos) if self.pos_proj is not None else pos

    def forward(self, images: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Encoded:
        self._check(images)
        weight = next(self.parameters(), None)
        if weight is not None and images.dtype != weight.dtype and not torch.is_autocast_enabled(images.device.type):
            images = images.to(weight.dtype)  # float64/float16 pixels into a float32 model
        features = self._features(images)
        batch, height, width, _ = features.shape
        positions = self._positions((height, width), features)
        x = torch.cat([features.flatten(1, 2), positions.expand(batch, -1, -1)], dim=-1)
        mask = check_mask("attention_mask", attention_mask, (batch, height * width))
        return Encoded(x, mask, ImageContext(batch, (height, width)))

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor]:
        """Images of ``image_size``, or of the size whose input grid is ``max_resolution``."""
        cfg = self.cfg
        size = cfg.image_size or tuple(n * cfg.spatial_downsample for n in cfg.max_resolution)
        return (torch.rand(batch_size, cfg.in_channels, *size) * 2 - 1,)
