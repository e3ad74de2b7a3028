"""Optical flow for images of any size ≥ the training size, by overlapping tiles (as the paper evaluates).

The flow model only sees frames of its training size (368×496). A larger image is covered by tiles of that
size, overlapping by at least ``min_overlap`` pixels, the last tile in each direction flush with the image
edge (the official colab's grid, see ``tile_starts``). Each tile's flow is weighted per pixel by its distance
to the tile's edge, ``min(y + 1, h - y, x + 1, w - x)``, and the weighted flows are averaged, so the seams
between tiles fade instead of jumping. Memory stays bounded: tiles run ``tile_batch`` at a time, and the
model decodes its 182,528 queries in chunks (``DecoderConfig.chunk_size``).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from torchperceiver.core.checks import check_floating, check_size, check_tensor
from torchperceiver.models.flow.adapters import FlowInputConfig

Tile = tuple[int, int, int]  # (image index, top, left)


def tile_starts(size: int, tile: int, min_overlap: int) -> list[int]:
    """Tile offsets along one axis: a stride of ``tile - min_overlap``, then one tile flush with the far edge.

    Equals the official colab's grid wherever that one is valid; the colab's can repeat a tile or run past
    the edge when the stride is small relative to ``size - tile``.
    """
    return [*range(0, size - tile, tile - min_overlap), size - tile]


def tile_weights(height: int, width: int) -> torch.Tensor:
    """``[height, width]`` weights: the distance (in pixels, ≥ 1) to the nearest tile edge."""
    y = torch.arange(height)
    x = torch.arange(width)
    wy = torch.minimum(y + 1, height - y)
    wx = torch.minimum(x + 1, width - x)
    return torch.minimum(wy[:, None], wx[None, :]).float()


def _tile_size(model: nn.Module, tile_size: tuple[int, int] | None) -> tuple[int, int]:
    if tile_size is not None:
        height, width = tile_size
        return height, width
    input_cfg = getattr(getattr(model, "config", None), "input_adapter", None)
    if not isinstance(input_cfg, FlowInputConfig):
        raise ValueError(f"tile_size: expected it given, or a flow model, got a {type(model).__name__} without one")
    height, width = input_cfg.train_size
    return height, width


def _check_frames(frame1: torch.Tensor, frame2: torch.Tensor) -> None:
    for name, frame in (("frame1", frame1), ("frame2", frame2)):
        check_tensor(name, frame)
        if frame.dim() not in (3, 4):
            raise ValueError(
                f"{name}: expected 3 dims [3, H, W] or 4 dims [B, 3, H, W], got shape {tuple(frame.shape)}"
            )
        check_floating(name, frame)
        check_size(name, frame, -3, 3, "colour channels")
    if frame1.shape != frame2.shape:
        raise ValueError(f"frame2: expected the shape of frame1 {tuple(frame1.shape)}, got {tuple(frame2.shape)}")


def _coverage(grid: list[tuple[int, int]], weights: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``[height, width]``: the sum of every tile's weights at each pixel (≥ 1 wherever a tile lies)."""
    total = torch.zeros(height, width, device=weights.device)
    tile_h, tile_w = weights.shape
    for y, x in grid:
        total[y : y + tile_h, x : x + tile_w] += weights
    return total


def _batches(tiles: list[Tile], size: int) -> Iterator[list[Tile]]:
    for i in range(0, len(tiles), size):
        yield tiles[i : i + size]


@torch.no_grad()
def predict_flow(
    model: nn.Module,
    frame1: torch.Tensor,
    frame2: torch.Tensor,
    *,
    min_overlap: int = 20,
    tile_batch: int = 1,
    tile_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Flow in pixels from ``frame1`` to ``frame2``: ``[3, H, W]`` → ``[2, H, W]``, ``[B, 3, H, W]`` → ``[B, 2, H, W]``.

    Frames hold values in [-1, 1] and must be at least the tile size (``tile_size``, by default the model's
    training size) in both dimensions; smaller frames are refused rather than padded, since padding would feed
    the model content it was never trained on. Tiles are cut on the frames' device and run on the model's, in
    its dtype; the flow is accumulated in float32 on the frames' device.
    """
    _check_frames(frame1, frame2)
    if tile_batch < 1:
        raise ValueError(f"tile_batch: expected >= 1, got {tile_batch}")
    tile_h, tile_w = _tile_size(model, tile_size)
    unbatched = frame1.dim() == 3
    frames = torch.stack([frame1, frame2], dim=-4)  # [2, 3, H, W] or [B, 2, 3, H, W]
    if unbatched:
        frames = frames[None]
    height, width = frames.shape[-2:]
    if height < tile_h or width < tile_w:
        raise ValueError(f"frame1: expected H × W of at least the tile size {(tile_h, tile_w)}, got {(height, width)}")
    if not 0 <= min_overlap < min(tile_h, tile_w):
        raise ValueError(
            f"min_overlap: expected >= 0 and less than the tile size {(tile_h, tile_w)}, got {min_overlap}"
        )

    grid = [(y, x) for y in tile_starts(height, tile_h, min_overlap) for x in tile_starts(width, tile_w, min_overlap)]
    weights = tile_weights(tile_h, tile_w).to(frames.device)
    flow = torch.zeros(frames.shape[0], 2, height, width, device=frames.device)
    param = next(model.parameters(), frames)  # a parameter-free model runs where and as the frames are
    tiles = [(b, y, x) for b in range(frames.shape[0]) for y, x in grid]
    for batch in _batches(tiles, tile_batch):
        crops = torch.stack([frames[b, :, :, y : y + tile_h, x : x + tile_w] for b, y, x in batch])
        pieces = model(crops.to(param.device, param.dtype)).float().to(frames.device)
        for (b, y, x), piece in zip(batch, pieces, strict=True):
            flow[b, :, y : y + tile_h, x : x + tile_w] += piece * weights
    flow /= _coverage(grid, weights, height, width)
    return flow[0] if unbatched else flow
