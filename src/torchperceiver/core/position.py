"""Position encodings: Fourier features (any number of dims) and learned tables."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def linear_positions(index_dims: Sequence[int], device: torch.device | str | None = None) -> torch.Tensor:
    """Grid coordinates in [-1, 1] (endpoints included): ``[*index_dims, len(index_dims)]``."""
    axes = [torch.linspace(-1.0, 1.0, n, device=device) for n in index_dims]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)


def subsampled_positions(
    indices: torch.Tensor, index_dims: Sequence[int], device: torch.device | str | None = None
) -> torch.Tensor:
    """Coordinates ``-1 + 2 * idx / n`` of flat ``indices`` into a grid of ``index_dims`` (official rule)."""
    coords = torch.stack(torch.unravel_index(indices.to(device), tuple(index_dims)), dim=-1)
    sizes = torch.tensor(list(index_dims), device=coords.device, dtype=torch.float32)
    return -1.0 + 2.0 * coords.float() / sizes


def fourier_features(
    pos: torch.Tensor,
    num_bands: int,
    max_resolution: Sequence[int],
    concat_pos: bool = True,
    sine_only: bool = False,
) -> torch.Tensor:
    """``[..., d]`` coordinates → ``[pos, sin(π f pos), cos(π f pos)]`` with ``f = linspace(1, res/2, K)`` per dim.

    Channel order follows the official code: all bands of dim 1, then dim 2, …, sines before cosines.
    """
    freqs = torch.stack(
        [torch.linspace(1.0, res / 2, num_bands, device=pos.device, dtype=torch.float32) for res in max_resolution]
    )
    pos = pos.float()
    angles = (pos[..., :, None] * freqs).flatten(-2) * math.pi
    parts = [torch.sin(angles)] if sine_only else [torch.sin(angles), torch.cos(angles)]
    if concat_pos:
        parts.insert(0, pos)
    return torch.cat(parts, dim=-1)


class FourierPositions(nn.Module):
    """Parameter-free Fourier position features for a grid of ``num_dims`` dims.

    ``max_resolution=None`` uses each grid's own size, as the official ``FourierPositionEncoding`` does when it
    is not given (``max_resolution or index_dims``); ``num_dims`` then says how many dims the grids have.
    """

    def __init__(
        self,
        num_bands: int,
        max_resolution: Sequence[int] | None = None,
        concat_pos: bool = True,
        sine_only: bool = False,
        *,
        num_dims: int | None = None,
    ) -> None:
        super().__init__()
        if max_resolution is None and num_dims is None:
            raise ValueError("FourierPositions: expected max_resolution or num_dims, got neither")
        self.num_bands = num_bands
        self.max_resolution = None if max_resolution is None else tuple(max_resolution)
        self.num_dims = len(self.max_resolution) if self.max_resolution is not None else int(num_dims or 0)
        self.concat_pos = concat_pos
        self.sine_only = sine_only

    @property
    def num_channels(self) -> int:
        dims = self.num_dims
        return dims * self.num_bands * (1 if self.sine_only else 2) + (dims if self.concat_pos else 0)

    def forward(
        self,
        index_dims: Sequence[int] | None = None,
        pos: torch.Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Features ``[prod(index_dims), C]`` for a full grid, or ``[..., C]`` for given coordinates ``pos``."""
        if pos is None:
            if index_dims is None:
                raise ValueError("FourierPositions: pass index_dims or pos")
            pos = linear_positions(index_dims, device=device).flatten(0, -2)
        if pos.shape[-1] != self.num_dims:
            raise ValueError(f"pos: expected {self.num_dims} coordinates per point, got {pos.shape[-1]}")
        resolution = self.max_resolution or (None if index_dims is None else tuple(index_dims))
        if resolution is None:
            raise ValueError("FourierPositions: without max_resolution, pass index_dims (the grid sets it)")
        return fourier_features(pos, self.num_bands, resolution, self.concat_pos, self.sine_only)


class LearnedPositions(nn.Module):
    """A trainable table ``[num_positions, num_channels]``."""

    def __init__(self, num_positions: int, num_channels: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.empty(num_positions, num_channels))
        nn.init.trunc_normal_(self.table, std=0.02)

    @property
    def num_channels(self) -> int:
        return self.table.shape[1]

    def forward(self, num_positions: int | None = None) -> torch.Tensor:
        return self.table if num_positions is None else self.table[:num_positions]
