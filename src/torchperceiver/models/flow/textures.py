"""Texture photographs for the synthetic flow generator: scikit-image's sample photos plus any user folder.

Real photographs give the layers natural image statistics (edges, gradients, noise) without a download:
scikit-image ships them in its wheel. The Middlebury Motorcycle stereo pair is left out on purpose, since
it is the real evaluation pair.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# Colour and grey photographs bundled with scikit-image (no pooch download needed).
SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "camera",
    "coins",
    "moon",
    "brick",
    "grass",
    "gravel",
    "clock",
    "page",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


@cache
def _bundled() -> tuple[np.ndarray, ...]:
    import skimage.data

    return tuple(_as_rgb(getattr(skimage.data, name)()) for name in SKIMAGE_PHOTOS)


def skimage_photos() -> list[np.ndarray]:
    """The bundled photographs as ``[H, W, 3]`` uint8 arrays (read once per process)."""
    return list(_bundled())


def folder_photos(folder: str | Path) -> list[np.ndarray]:
    """Every image file directly in ``folder`` (sorted by name) as ``[H, W, 3]`` uint8 arrays."""
    from PIL import Image

    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"texture_dir: expected a directory of images, got {str(path)!r}")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"texture_dir: expected image files ({', '.join(IMAGE_SUFFIXES)}) in {str(path)!r}, got none")
    photos = []
    for file in files:
        with Image.open(file) as image:
            photos.append(np.array(image.convert("RGB")))
    return photos


def texture_bank(photos: list[np.ndarray], size: int) -> torch.Tensor:
    """``[3, T, size, size]`` floats in [0, 1]: each photo's central square, resized with antialiasing.

    The layout (channels, then texture index) lets one 3-D ``grid_sample`` read any texture per pixel.
    """
    if not photos:
        raise ValueError("photos: expected at least one texture photo, got none")
    squares = []
    for photo in photos:
        h, w = photo.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = torch.from_numpy(np.ascontiguousarray(photo[top : top + side, left : left + side]))
        square = square.permute(2, 0, 1)[None].float() / 255.0
        squares.append(F.interpolate(square, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(squares).clamp(0, 1).permute(1, 0, 2, 3).contiguous()
