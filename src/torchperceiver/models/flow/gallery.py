"""PNG galleries: generator samples with their flow, and a model's predictions beside the truth.

Rows are pairs; columns are pictures of one size (small images are enlarged by whole pixels so a 32 × 48
crop is still readable). Flow pictures in one row share one colour scale: the true flow's largest length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from torchperceiver.models.flow.inference import predict_pair
from torchperceiver.models.flow.visualize import flow_to_rgb, save_png

GAP = 4


def _rgb(frame: torch.Tensor) -> np.ndarray:
    return (frame.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)


def _mask(mask: torch.Tensor) -> np.ndarray:
    return np.repeat((mask.detach().cpu().numpy()[:, :, None] * 255).astype(np.uint8), 3, axis=2)


def grid(rows: list[list[np.ndarray]], target_height: int = 128) -> np.ndarray:
    """Tile equal-size ``[H, W, 3]`` pictures, enlarged by an integer factor to about ``target_height``."""
    height, width = rows[0][0].shape[:2]
    factor = max(1, target_height // height)
    h, w = height * factor, width * factor
    columns = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + GAP) - GAP, columns * (w + GAP) - GAP, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, picture in enumerate(row):
            big = picture.repeat(factor, axis=0).repeat(factor, axis=1)
            out[i * (h + GAP) : i * (h + GAP) + h, j * (w + GAP) : j * (w + GAP) + w] = big
    return out


def sample_gallery(samples: dict[str, torch.Tensor], path: str | Path, target_height: int = 128) -> Path:
    """Columns: frame 1, frame 2, flow (colour wheel), visible mask (white = visible in frame 2)."""
    rows = []
    for i in range(samples["flow"].shape[0]):
        flow = samples["flow"][i]
        rows.append(
            [_rgb(samples["frame1"][i]), _rgb(samples["frame2"][i]), flow_to_rgb(flow), _mask(samples["visible"][i])]
        )
    save_png(path, grid(rows, target_height))
    return Path(path)


def prediction_gallery(
    model: nn.Module, pairs: list[tuple[str, dict[str, torch.Tensor]]], path: str | Path, target_height: int = 128
) -> list[Path]:
    """Columns: frame 1, true flow, predicted flow (tiled, as ``predict flow``). Rows of different sizes are
    written as separate PNGs ``<stem>-<n>.png`` after the first; the first row size names ``path``."""
    device = next(model.parameters()).device
    by_size: dict[tuple[int, ...], list[list[np.ndarray]]] = {}
    for _, item in pairs:
        flow = predict_pair(model, item["frame1"][None].to(device), item["frame2"][None].to(device))[0].cpu()
        valid = item["valid"] if "valid" in item else item["visible"]
        scale = float(torch.linalg.vector_norm(item["flow"], dim=0)[valid].max()) if valid.any() else 1.0
        row = [_rgb(item["frame1"]), flow_to_rgb(item["flow"], scale, valid.numpy()), flow_to_rgb(flow, scale)]
        by_size.setdefault(tuple(item["flow"].shape[-2:]), []).append(row)
    path = Path(path)
    written = []
    for k, rows in enumerate(by_size.values()):
        target = path if k == 0 else path.with_name(f"{path.stem}-{k}{path.suffix}")
        save_png(target, grid(rows, target_height))
        written.append(target)
    return written
