"""Flow pictures: the Middlebury colour wheel (Baker et al., IJCV 2011) and an optional arrow overlay.

The wheel comes from the ``flow_vis`` package (a port of the Middlebury C++/Matlab code): hue is the
direction (right red, down yellow, left cyan, up violet), saturation the length relative to ``max_flow``;
zero flow is white. Pixels marked invalid are drawn black.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def as_hw2(flow: np.ndarray | torch.Tensor) -> np.ndarray:
    """``[2, H, W]`` (torch layout) or ``[H, W, 2]`` → ``[H, W, 2]`` float32 numpy."""
    array = flow.detach().float().cpu().numpy() if isinstance(flow, torch.Tensor) else np.asarray(flow, np.float32)
    if array.ndim == 3 and array.shape[0] == 2 and array.shape[2] != 2:
        array = array.transpose(1, 2, 0)
    if array.ndim != 3 or array.shape[2] != 2:
        raise ValueError(f"flow: expected shape [2, H, W] or [H, W, 2], got {array.shape}")
    return array


def flow_to_rgb(
    flow: np.ndarray | torch.Tensor, max_flow: float | None = None, valid: np.ndarray | None = None
) -> np.ndarray:
    """``[H, W, 3]`` uint8 colour-wheel picture; lengths are divided by ``max_flow`` (default: the largest)."""
    import flow_vis

    uv = as_hw2(flow)
    finite = np.all(np.isfinite(uv), axis=2)
    mask = finite if valid is None else finite & np.asarray(valid, bool)
    uv = np.where(mask[:, :, None], uv, 0)
    if max_flow is None:
        max_flow = float(np.linalg.norm(uv, axis=2).max(initial=0.0))
    if max_flow < 0:
        raise ValueError(f"max_flow: expected >= 0, got {max_flow}")
    scale = 1.0 / max(max_flow, 1e-6)
    rgb = flow_vis.flow_uv_to_colors(uv[:, :, 0] * scale, uv[:, :, 1] * scale)
    rgb[~mask] = 0
    return rgb


def save_png(path: str | Path, image: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image)).save(path)


def save_arrows(
    path: str | Path, image: np.ndarray, flow: np.ndarray | torch.Tensor, step: int | None = None, dpi: int = 100
) -> None:
    """``image`` (``[H, W, 3]`` uint8) with the flow drawn as arrows every ``step`` pixels (default: ~24 across)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    uv = as_hw2(flow)
    height, width = uv.shape[:2]
    step = step or max(1, width // 24)
    ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    figure = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(image)
    axes.quiver(
        xs, ys, uv[ys, xs, 0], uv[ys, xs, 1], color="yellow", angles="xy", scale_units="xy", scale=1, width=0.003
    )
    axes.set_axis_off()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
