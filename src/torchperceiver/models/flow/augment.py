"""Flow-consistent augmentation: random scale, crop and flips applied to both frames and to the flow.

Each sample gets its own map from crop pixels to source pixels, ``p = offset + F·p' / s`` (``F`` flips x
and/or y). Both frames are resampled through it, so the flow of the new pair at ``p'`` is
``F·s·flow(p)``: scaled by ``s`` and negated along a flipped axis. One batched ``grid_sample`` does it all,
on whatever device the batch is on; the draws are a pure function of ``(seed, index)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from torchperceiver.models.flow.synthetic import sample_seed


@dataclass
class AugmentConfig:
    """``scale``: log-uniform range of the zoom ``s``; ``hflip``/``vflip``: flip probabilities."""

    scale: tuple[float, float] = (0.8, 1.25)
    hflip: float = 0.5
    vflip: float = 0.1

    def __post_init__(self) -> None:
        low, high = self.scale
        if not 0 < low <= high:
            raise ValueError(f"augment.scale: expected 0 < low <= high, got {self.scale}")
        for name in ("hflip", "vflip"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"augment.{name}: expected a probability in [0, 1], got {getattr(self, name)}")


def _draws(
    cfg: AugmentConfig, seed: int, indices: list[int], source: tuple[int, int], crop: tuple[int, int]
) -> list[tuple[float, bool, bool, float, float]]:
    """Per sample: zoom, flips and the crop's top-left corner (in source pixels)."""
    rows = []
    for index in indices:
        g = torch.Generator().manual_seed(sample_seed(seed, index))
        low, high = math.log(cfg.scale[0]), math.log(cfg.scale[1])
        u = torch.rand(5, generator=g).tolist()
        # The crop's footprint (crop - 1) / s must fit in the source: s >= (crop - 1) / (source - 1).
        fit = max((c - 1) / max(s - 1, 1) for c, s in zip(crop, source, strict=True))
        zoom = max(math.exp(low + (high - low) * u[0]), fit)
        span_y, span_x = (crop[0] - 1) / zoom, (crop[1] - 1) / zoom
        top = u[1] * (source[0] - 1 - span_y)
        left = u[2] * (source[1] - 1 - span_x)
        rows.append((zoom, u[3] < cfg.hflip, u[4] < cfg.vflip, top, left))
    return rows


def augment(
    batch: dict[str, torch.Tensor], crop: tuple[int, int], cfg: AugmentConfig, seed: int, indices: list[int]
) -> dict[str, torch.Tensor]:
    """``frame1``/``frame2`` ``[B, 3, H, W]``, ``flow`` ``[B, 2, H, W]`` and any ``[B, H, W]`` bool masks →
    the same keys at ``crop`` size, transformed per sample."""
    flow = batch["flow"]
    source = (flow.shape[-2], flow.shape[-1])
    draws = _draws(cfg, seed, indices, source, crop)
    device = flow.device
    zoom = torch.tensor([d[0] for d in draws], device=device)
    sign_x = torch.tensor([-1.0 if d[1] else 1.0 for d in draws], device=device)
    sign_y = torch.tensor([-1.0 if d[2] else 1.0 for d in draws], device=device)
    top = torch.tensor([d[3] for d in draws], device=device)
    left = torch.tensor([d[4] for d in draws], device=device)
    ys = torch.arange(crop[0], device=device, dtype=torch.float32)
    xs = torch.arange(crop[1], device=device, dtype=torch.float32)
    # Flipping mirrors the crop: output x' reads source x at (crop - 1 - x') instead of x'.
    x_out = torch.where(sign_x[:, None] < 0, crop[1] - 1 - xs, xs)  # [B, w]
    y_out = torch.where(sign_y[:, None] < 0, crop[0] - 1 - ys, ys)  # [B, h]
    x_src = left[:, None] + x_out / zoom[:, None]
    y_src = top[:, None] + y_out / zoom[:, None]
    gx = (x_src * 2 / (source[1] - 1) - 1)[:, None, :].expand(-1, crop[0], -1)
    gy = (y_src * 2 / (source[0] - 1) - 1)[:, :, None].expand(-1, -1, crop[1])
    grid = torch.stack([gx, gy], -1)
    out = {}
    for key, value in batch.items():
        if value.dim() == 4:
            out[key] = F.grid_sample(value.float(), grid, mode="bilinear", align_corners=True)
        else:
            picked = F.grid_sample(value[:, None].float(), grid, mode="nearest", align_corners=True)
            out[key] = picked[:, 0] > 0.5
    factor = torch.stack([sign_x * zoom, sign_y * zoom], 1)[:, :, None, None]
    out["flow"] = out["flow"] * factor
    return out
