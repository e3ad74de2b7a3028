"""The paper's image augmentation, batched on the training device (kornia), and the deterministic eval view.

Train (ImageNet, DESIGN §4): random resized crop (area 0.08–1, aspect 3/4–4/3) to 224, horizontal flip,
RandAugment (4 layers, magnitude 5 on the paper's 0–10 scale = kornia's ``m=15`` of 30), then MixUp or
CutMix (α 0.2, one of the two per batch) with soft labels. Eval: the centre crop (224 of the 256 square the
readers decode to). Pixels are scaled to [0, 1] and normalised with ``normalization(channels)``.

kornia (the ``vision`` extra, imported only when a training augmentation is built) does the image operations.
MixUp/CutMix are a few tensor ops here because the paper draws λ from Beta(α, α) and kornia's MixUp draws it
uniformly; the eval view is a plain centre slice, so inference needs no kornia.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

Crop = Literal["random_resized", "random_pad", "center"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: kornia's RandAugment magnitude runs over (0, 30); the paper's (TF ``distort_image_with_randaugment``) over 0–10.
KORNIA_MAGNITUDE_SCALE = 3


def normalization(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std per channel: ImageNet's for RGB (the released models and HF's processor), 0.5/0.5 otherwise."""
    if channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    return (0.5,) * channels, (0.5,) * channels


@dataclass
class AugmentConfig:
    """``crop``: ``random_resized`` (area ``crop_scale``, aspect ``crop_ratio``), ``random_pad`` (a random
    ``crop_size`` window of the image padded by ``crop_padding``) or ``center``. ``randaugment_layers`` 0 turns
    RandAugment off (it needs RGB); ``randaugment_magnitude`` is on the paper's 0–10 scale. ``mixup_alpha`` /
    ``cutmix_alpha`` 0 turn each off; with both on, CutMix is used for a batch with ``cutmix_prob``."""

    crop: Crop = "random_resized"
    crop_size: int = 224
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    crop_padding: int = 4
    hflip: bool = True
    randaugment_layers: int = 4
    randaugment_magnitude: float = 5.0
    mixup_alpha: float = 0.2
    cutmix_alpha: float = 0.2
    cutmix_prob: float = 0.5

    def __post_init__(self) -> None:
        rules = [
            ("crop", self.crop in ("random_resized", "random_pad", "center"), "random_resized|random_pad|center"),
            ("crop_size", self.crop_size >= 1, ">= 1"),
            ("crop_scale", 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1, "0 < min <= max <= 1"),
            ("crop_ratio", 0 < self.crop_ratio[0] <= self.crop_ratio[1], "0 < min <= max"),
            ("crop_padding", self.crop_padding >= 0, ">= 0"),
            ("randaugment_layers", self.randaugment_layers >= 0, ">= 0"),
            ("randaugment_magnitude", 0 < self.randaugment_magnitude < 10, "in (0, 10)"),
            ("mixup_alpha", self.mixup_alpha >= 0, ">= 0"),
            ("cutmix_alpha", self.cutmix_alpha >= 0, ">= 0"),
            ("cutmix_prob", 0 <= self.cutmix_prob <= 1, "in [0, 1]"),
        ]
        for name, ok, expected in rules:
            if not ok:
                raise ValueError(f"augment.{name}: expected {expected}, got {getattr(self, name)!r}")


def _to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` → float ``[0, 1]`` (floats are taken as already in ``[0, 1]``)."""
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


class Normalize(nn.Module):
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        mean, std = normalization(channels)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class EvalTransform(nn.Module):
    """uint8 ``[B, C, S, S]`` → normalised floats ``[B, C, crop, crop]``: the centre crop, nothing random."""

    def __init__(self, crop_size: int, channels: int) -> None:
        super().__init__()
        self.crop_size = crop_size
        self.normalize = Normalize(channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        if min(height, width) < self.crop_size:
            raise ValueError(f"images: expected at least {self.crop_size}×{self.crop_size}, got {height}×{width}")
        top, left = (height - self.crop_size) // 2, (width - self.crop_size) // 2
        x = images[..., top : top + self.crop_size, left : left + self.crop_size]
        return self.normalize(_to_unit(x))


class TrainAugment(nn.Module):
    """uint8 images ``[B, C, S, S]`` and int labels ``[B]`` → normalised crops and soft targets ``[B, classes]``."""

    def __init__(self, cfg: AugmentConfig, num_classes: int, channels: int) -> None:
        super().__init__()
        try:
            import kornia.augmentation as K
            from kornia.augmentation.auto import RandAugment
        except ImportError as err:
            raise ValueError(
                "augment: training augmentation needs kornia: pip install 'torchperceiver[vision]'"
            ) from err

        if cfg.randaugment_layers and channels != 3:
            raise ValueError(f"augment.randaugment_layers: expected 0 for {channels}-channel images (RGB only)")
        self.cfg, self.num_classes = cfg, num_classes
        size = (cfg.crop_size, cfg.crop_size)
        ops: list[Any] = []
        if cfg.crop == "random_resized":
            ops.append(K.RandomResizedCrop(size, scale=cfg.crop_scale, ratio=cfg.crop_ratio))
        elif cfg.crop == "random_pad":
            ops.append(K.RandomCrop(size, padding=cfg.crop_padding))
        else:
            ops.append(K.CenterCrop(size))
        if cfg.hflip:
            ops.append(K.RandomHorizontalFlip())
        if cfg.randaugment_layers:
            magnitude = round(cfg.randaugment_magnitude * KORNIA_MAGNITUDE_SCALE)
            ops.append(RandAugment(n=cfg.randaugment_layers, m=magnitude))
        self.ops = K.AugmentationSequential(*ops)
        self.normalize = Normalize(channels)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.ops(_to_unit(images)).clamp(0, 1)
        targets = F.one_hot(labels, self.num_classes).float()
        x, targets = self.mix(x, targets)
        return self.normalize(x), targets

    def mix(self, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MixUp or CutMix of each image with another of the batch; targets mixed by the same λ (rows sum to 1)."""
        cfg = self.cfg
        use_cutmix = cfg.cutmix_alpha > 0 and (cfg.mixup_alpha <= 0 or torch.rand(()) < cfg.cutmix_prob)
        alpha = cfg.cutmix_alpha if use_cutmix else cfg.mixup_alpha
        if alpha <= 0 or len(x) < 2:
            return x, targets
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        perm = torch.randperm(len(x), device=x.device)
        if use_cutmix:
            x, lam = _cutmix(x, x[perm], lam)
        else:
            x = lam * x + (1 - lam) * x[perm]
        return x, lam * targets + (1 - lam) * targets[perm]


def _cutmix(x: torch.Tensor, other: torch.Tensor, lam: float) -> tuple[torch.Tensor, float]:
    """Paste a box of ``other`` covering about ``1 - lam`` of the area; returns the kept area exactly."""
    height, width = x.shape[-2:]
    cut_h, cut_w = round(height * (1 - lam) ** 0.5), round(width * (1 - lam) ** 0.5)
    cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, width)
    x = x.clone()
    x[..., top:bottom, left:right] = other[..., top:bottom, left:right]
    return x, 1 - (bottom - top) * (right - left) / (height * width)
