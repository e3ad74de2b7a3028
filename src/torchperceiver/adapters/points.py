"""Output points: which positions of an output grid a decoder queries, as Fourier query features.

Autoencoders decode a chosen subset of points in training (the paper's 512 pixels + 512 audio patches)
and every point, chunk by chunk, at inference. Both use the official subsampling rule
``pos = -1 + 2 * idx / n``, so a point gets the same query whether it is decoded alone or with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch

from torchperceiver.core.checks import check_integer, check_range, check_rank, check_tensor
from torchperceiver.core.position import FourierPositions, subsampled_positions


def output_points(
    name: str, points: torch.Tensor | None, grid: Sequence[int], device: torch.device | str | None = None
) -> torch.Tensor:
    """Flat indices into ``grid``: ``points`` checked (1-D integers in range), or every point when ``None``."""
    size = prod(grid)
    if points is None:
        return torch.arange(size, device=device)
    check_tensor(name, points)
    check_rank(name, points, 1, "[num_points] (flat indices, shared by the batch)")
    check_integer(name, points)
    check_range(name, points, 0, size)
    return points.to(device)


def fourier_queries(
    positions: FourierPositions, indices: torch.Tensor, grid: Sequence[int], batch_size: int, dtype: torch.dtype
) -> torch.Tensor:
    """Fourier features of the points ``indices`` of ``grid``, ``[batch_size, len(indices), C]``."""
    features = positions(pos=subsampled_positions(indices, grid, device=indices.device))
    return features.to(dtype).expand(batch_size, -1, -1)
