"""Output points: which positions of an output grid a decoder queries, as Fourier query features.

Autoencoders decode a chosen subset of points in training (the paper's 512 pixels + 512 audio patches)
and every point, chunk by chunk, at inference. Both use the official subsampling rule
``pos = -1 + 2 * idx / n``, so a point gets the same query whether it is decoded alone or with the rest.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from math import prod
from typing import Any

import torch
from torch import nn

from torchperceiver.core.adapter import Context, OutputAdapter
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


class PointOutput(OutputAdapter):
    """An output adapter that queries (a subset of) the points of a grid by their Fourier features.

    Subclasses set ``positions`` and ``head`` and say which grid the input in ``context`` implies.
    """

    positions: FourierPositions
    head: nn.Linear

    @property
    def query_channels(self) -> int:
        return self.positions.num_channels

    @abstractmethod
    def grid(self, context: Context) -> tuple[int, ...]: ...

    def num_points(self, context: Context) -> int:
        """How many points a full decode has."""
        return prod(self.grid(context))

    def whole(self, outputs: torch.Tensor, context: Context) -> torch.Tensor:
        """Outputs of every point in flat order, in the shape a full decode returns (here: unchanged)."""
        return outputs

    def num_queries(self, context: Context, subsampled_points: torch.Tensor | None = None) -> int:
        return self.num_points(context) if subsampled_points is None else len(subsampled_points)

    def queries(
        self,
        context: Context,
        subsampled_points: torch.Tensor | None = None,
        *,
        points_name: str = "subsampled_points",
        **query_args: Any,
    ) -> torch.Tensor:
        """``subsampled_points``: flat grid indices (``None``: every point); ``points_name`` names it in errors."""
        if query_args:
            raise ValueError(f"query arguments: expected only subsampled_points, got {sorted(query_args)}")
        grid = self.grid(context)
        indices = output_points(points_name, subsampled_points, grid, self.head.weight.device)
        return fourier_queries(self.positions, indices, grid, context.batch_size, self.head.weight.dtype)
