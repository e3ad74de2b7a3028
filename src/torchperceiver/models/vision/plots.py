"""Pictures of image classifiers: the confusion matrix and attention maps over an image (matplotlib, Agg)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_confusion(path: Path, confusion: torch.Tensor, names: Sequence[str]) -> Path:
    """Rows: true class, columns: predicted; each row normalised to 1 (cell text for up to 20 classes)."""
    plt = _pyplot()
    counts = confusion.double()
    rates = (counts / counts.sum(1, keepdim=True).clamp(min=1)).numpy()
    k = len(names)
    side = min(max(4.0, 0.55 * k + 2), 16.0)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    if k <= 20:
        ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
        for i in range(k):
            for j in range(k):
                if rates[i, j] >= 0.005:
                    color = "white" if rates[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = float(counts.diag().sum() / counts.sum().clamp(min=1))
    ax.set_title(f"confusion over {int(counts.sum())} held-out images (accuracy {accuracy:.3f})")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def save_attention(path: Path, image: np.ndarray, maps: torch.Tensor, latents: Sequence[int], title: str = "") -> Path:
    """``image`` (H×W×C floats in [0, 1]) beside one panel per latent: its attention ``maps [L, h, w]`` upsampled
    to the image and drawn over it (each map scaled to its own maximum)."""
    plt = _pyplot()
    panels = len(latents) + 1
    cols = min(panels, 5)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.5 * rows), squeeze=False)
    grey = image.shape[-1] == 1
    shown = image[..., 0] if grey else image
    height, width = image.shape[:2]
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(shown, cmap="gray" if grey else None)
    axes.flat[0].set_title("input", fontsize=9)
    up = torch.nn.functional.interpolate(maps[:, None].float(), size=(height, width), mode="nearest")[:, 0]
    for ax, latent, heat in zip(axes.flat[1:], latents, up, strict=False):
        ax.imshow(shown, cmap="gray" if grey else None)
        ax.imshow((heat / heat.max().clamp(min=1e-12)).numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        ax.set_title(f"latent {latent}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
