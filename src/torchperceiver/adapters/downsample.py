"""The convolutional stem of the ImageNet ``conv`` model: conv 7×7/2 (no bias) → BatchNorm → ReLU → max-pool 3×3/2.

The official code pads the conv and the pool TF-style ('SAME'): the output has ``ceil(size / stride)``
positions and an odd total padding puts the extra pixel after, so a 224 image becomes 112, then 56.
HF pads the conv by 3 on both sides (on even sizes its output is the official one shifted by one pixel)
and does not pad the pool (224 → 112 → 55); ``hf_padding=True`` reproduces HF.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KERNEL, STRIDE, POOL_KERNEL, POOL_STRIDE = 7, 2, 3, 2


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding ``(before, after)`` of one dim: the output keeps ``ceil(size / stride)`` positions."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad the last two dims of ``x`` for a 'SAME' window of ``kernel``/``stride``."""
    top, bottom = same_padding(x.shape[-2], kernel, stride)
    left, right = same_padding(x.shape[-1], kernel, stride)
    return F.pad(x, (left, right, top, bottom), value=value)


class ConvDownsample(nn.Module):
    """``num_layers`` × (conv → BatchNorm → ReLU → max-pool); each layer shrinks height and width 4×."""

    def __init__(self, in_channels: int, out_channels: int, num_layers: int = 1, hf_padding: bool = False) -> None:
        super().__init__()
        self.hf_padding = hf_padding
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, KERNEL, stride=STRIDE, bias=False)
            for i in range(num_layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(out_channels) for _ in range(num_layers))

    @property
    def min_size(self) -> int:
        """Smallest height/width that gives every conv layer at least a kernel's worth of input."""
        return KERNEL * 4 ** (len(self.convs) - 1)

    def output_size(self, size: int) -> int:
        """Height (or width) of the output for an input of ``size``."""
        for _ in self.convs:
            if self.hf_padding:
                size = (size - 1) // STRIDE + 1  # conv padded KERNEL // 2 on both sides
                size = (size - POOL_KERNEL) // POOL_STRIDE + 1  # unpadded pool
            else:
                size = math.ceil(math.ceil(size / STRIDE) / POOL_STRIDE)
        return size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            if self.hf_padding:
                x = torch.relu(norm(conv(F.pad(x, (KERNEL // 2,) * 4))))
                x = F.max_pool2d(x, POOL_KERNEL, POOL_STRIDE)
            else:
                x = torch.relu(norm(conv(pad_same(x, KERNEL, STRIDE))))
                x = F.max_pool2d(pad_same(x, POOL_KERNEL, POOL_STRIDE, value=-math.inf), POOL_KERNEL, POOL_STRIDE)
        return x
