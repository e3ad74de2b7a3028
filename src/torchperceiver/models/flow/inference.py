"""Flow for a frame pair of any size: the tiled prediction, with small frames resized up to one tile first.

``predict_flow`` (tiling.py) covers frames at least the model's training size with overlapping tiles.
A smaller pair is resized up (bilinear) just enough to hold one tile, predicted, and the flow resized back
and scaled down by the same factor per axis. Upscaling is preferred over refusing because a small image is
a common real input (thumbnails, our downscaled Motorcycle pair); it costs accuracy on fine detail, so the
CLI prints a note when it happens. Evaluation and ``predict flow`` both go through ``predict_pair``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.models.flow.adapters import FlowInputConfig
from torchperceiver.models.flow.tiling import predict_flow


def train_size(model: nn.Module) -> tuple[int, int]:
    """The frame size a flow model was trained at (``config.input_adapter.train_size``)."""
    cfg = getattr(getattr(model, "config", None), "input_adapter", None)
    if not isinstance(cfg, FlowInputConfig):
        raise ValueError(f"model: expected an optical-flow model (flow input adapter), got {type(cfg).__name__}")
    return (int(cfg.train_size[0]), int(cfg.train_size[1]))


def upscale_size(size: tuple[int, int], tile: tuple[int, int]) -> tuple[int, int]:
    """``size`` grown per axis to at least ``tile`` (each axis independently; unchanged if large enough)."""
    return (max(size[0], tile[0]), max(size[1], tile[1]))


@torch.no_grad()
def predict_pair(model: nn.Module, frame1: torch.Tensor, frame2: torch.Tensor, min_overlap: int = 20) -> torch.Tensor:
    """``[B, 3, H, W]`` frames in [0, 1] → flow ``[B, 2, H, W]`` in pixels, for any ``H × W``."""
    tile = train_size(model)
    height, width = frame1.shape[-2:]
    size = upscale_size((height, width), tile)
    frames = [frame1 * 2 - 1, frame2 * 2 - 1]  # the model reads [-1, 1]
    if size != (height, width):
        frames = [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in frames]
    overlap = min(min_overlap, min(tile) - 1)
    flow = predict_flow(model, frames[0], frames[1], min_overlap=overlap)
    if size == (height, width):
        return flow
    flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
    factor = torch.tensor([width / size[1], height / size[0]], device=flow.device)
    return flow * factor[:, None, None]
