"""Space-to-depth: non-overlapping ``b×b`` patches of an image become the channels of one position."""

from __future__ import annotations

import torch


def space_to_depth(images: torch.Tensor, block: int) -> torch.Tensor:
    """``[B, C, H, W]`` → channels-last ``[B, H/b, W/b, b·b·C]``.

    Each position's channels are ordered (patch row, patch column, channel), the official layout, so
    weights of a layer after patching transfer from the official and HF models. ``H`` and ``W`` must be
    multiples of ``block``.
    """
    batch, channels, height, width = images.shape
    patches = images.reshape(batch, channels, height // block, block, width // block, block)
    return patches.permute(0, 2, 4, 3, 5, 1).reshape(batch, height // block, width // block, block * block * channels)
