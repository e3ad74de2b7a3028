"""The ``image-classification`` task: any image classifier (``vision-*`` presets) on IDX, folder, NumPy or HF data.

Loss: cross-entropy against soft targets (MixUp/CutMix mix them; ``label_smoothing`` spreads them), summed
over images. Metrics: ``accuracy`` (top-1), ``top5`` and, on the held-out set at the end of the run
(``finish``), the per-class accuracy (``per_class.json``) and a confusion-matrix PNG.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from torchperceiver.commands import class_names
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.vision import data as readers
from torchperceiver.models.vision.augment import AugmentConfig, EvalTransform, TrainAugment
from torchperceiver.models.vision.plots import save_confusion
from torchperceiver.presets import ModelSection
from torchperceiver.training.data import EndlessDataset
from torchperceiver.training.task import Batch, TaskOutput, register_task

Format = Literal["fashion-mnist", "idx", "folder", "numpy", "hf"]


@dataclass
class ImageDataConfig:
    """Where the images are and how they are read.

    ``format``: ``fashion-mnist`` (Debian's IDX files; ``root`` may point elsewhere), ``idx``
    (``root/{train,eval}-images-idx3-ubyte[.gz]`` and ``-labels-idx1-ubyte[.gz]``), ``folder`` (ImageFolder
    trees ``root/{train,eval}/<class>/<image>``), ``numpy`` (``root/{train,eval}.npz`` with ``images`` and
    ``labels``) or ``hf`` (``datasets.load_from_disk(root)`` with splits ``train``/``eval``). ``load_size``:
    the square files are decoded to (shorter side resized, centre square); augmentation crops from it.
    ``on_error``: an unreadable file stops the run (``raise``) or is skipped with a warning naming it.
    ``check_files``: check every file's header before training and report the bad ones (small trees).
    ``eval_images``: score only the first N held-out images (None: all).
    """

    format: Format = "folder"
    root: str = ""
    train: str = "train"
    eval: str = "val"
    channels: int = 3
    load_size: int = 256
    on_error: readers.OnError = "raise"
    check_files: bool = False
    eval_images: int | None = None
    label_smoothing: float = 0.1

    def __post_init__(self) -> None:
        if self.format not in ("fashion-mnist", "idx", "folder", "numpy", "hf"):
            raise ValueError(f"data.format: expected fashion-mnist|idx|folder|numpy|hf, got {self.format!r}")
        if self.format != "fashion-mnist" and not self.root:
            raise ValueError(f"data.root: expected a path for format {self.format!r}, got nothing")
        if self.channels not in (1, 3):
            raise ValueError(f"data.channels: expected 1 or 3, got {self.channels!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"data.label_smoothing: expected in [0, 1), got {self.label_smoothing!r}")
        if self.eval_images is not None and self.eval_images < 1:
            raise ValueError(f"data.eval_images: expected a positive int or None, got {self.eval_images!r}")

    def open(self, split: str) -> Any:
        """The dataset of ``split`` (``self.train`` or ``self.eval``), items ``{"image": uint8, "label": int}``."""
        decode = readers.Decode(self.load_size, self.channels)
        root = Path(self.root)
        if self.format == "fashion-mnist":
            return readers.fashion_mnist(
                "train" if split == self.train else "test", self.root or readers.FASHION_MNIST_DIR
            )
        if self.format == "idx":
            images, labels = (_idx_file(root, f"{split}-{kind}") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"))
            return readers.idx_dataset(images, labels)
        if self.format == "numpy":
            return readers.numpy_dataset(root / f"{split}.npz")
        if self.format == "hf":
            return readers.HFImageDataset(root, split, decode)
        folder = readers.ImageFolder(root / split, decode, self.on_error)
        if self.check_files:
            bad = folder.check_files()
            if bad and self.on_error == "raise":
                raise ValueError(f"data.root: unreadable images {[str(p) for p in bad]}; set data.on_error=skip")
            for path in bad:
                print(f"warning: {path}: unreadable image; skipped")
            folder.samples = [s for s in folder.samples if s[0] not in set(bad)]
        return folder


def _idx_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).exists():
            return root / name
    raise ValueError(f"data.root: expected {stem}[.gz] in {root}, got none")


class _Limited(Dataset):
    """The first ``size`` items of ``dataset``."""

    def __init__(self, dataset: Any, size: int) -> None:
        self.dataset, self.size = dataset, min(size, len(dataset))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Any:
        if index >= self.size:
            raise IndexError(index)
        return self.dataset[index]


@register_task
class ImageClassificationTask:
    name: ClassVar[str] = "image-classification"
    default_preset: ClassVar[str] = "vision-fourier"
    sections: ClassVar[dict[str, type]] = {"data": ImageDataConfig, "augment": AugmentConfig}

    def __init__(
        self, model: ModelSection, data: ImageDataConfig, augment: AugmentConfig | None = None, seed: int = 0
    ) -> None:
        self.data_cfg, self.seed = data, seed
        self.augment_cfg = augment or AugmentConfig()
        args = model.arguments()
        if args.get("in_channels", data.channels) != data.channels:
            raise ValueError(
                f"model.in_channels: expected {data.channels} (data.channels), got {args['in_channels']!r}"
            )
        size = args.get("image_size")
        crop = self.augment_cfg.crop_size
        if size is not None and tuple(size) != (crop, crop):
            raise ValueError(f"model.image_size: expected [{crop}, {crop}] (augment.crop_size), got {list(size)}")
        self._train: Any = None
        self._eval: Any = None
        if "labels" in args and not args["labels"]:
            classes = tuple(getattr(self._train_data(), "classes", ()))
            if classes and len(classes) == args.get("num_classes"):
                model = dataclasses.replace(model, labels=classes)  # type: ignore[type-var]
        self.model_cfg = model
        self.num_classes = int(args.get("num_classes", 0))
        self.train_augment = TrainAugment(self.augment_cfg, self.num_classes, data.channels)
        self.eval_transform = EvalTransform(crop, data.channels)

    def _train_data(self) -> Any:
        if self._train is None:
            self._train = self.data_cfg.open(self.data_cfg.train)
        return self._train

    def _eval_data(self) -> Any:
        if self._eval is None:
            data = self.data_cfg.open(self.data_cfg.eval)
            limit = self.data_cfg.eval_images
            self._eval = _Limited(data, limit) if limit else data
        return self._eval

    def build_model(self) -> nn.Module:
        return self.model_cfg.build()

    def model_config(self, model: nn.Module) -> dict[str, Any]:
        config: Any = model.config
        return config.to_dict()

    def train_dataset(self) -> Dataset:
        return EndlessDataset(self._train_data(), self.seed)

    def eval_dataset(self) -> Dataset | None:
        return self._eval_data()

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        images, labels = batch["image"], batch["label"]
        if model.training:
            x, targets = self.train_augment.to(images.device)(images, labels)
        else:
            x = self.eval_transform.to(images.device)(images)
            targets = F.one_hot(labels, self.num_classes).float()
        logits = model(x).float()
        if logits.shape[-1] != self.num_classes:
            raise ValueError(f"model.num_classes: expected {self.num_classes}, got {logits.shape[-1]} logits")
        loss = F.cross_entropy(logits, targets, label_smoothing=self.data_cfg.label_smoothing, reduction="sum")
        count = torch.tensor(float(len(labels)), device=logits.device)
        top = logits.topk(min(5, self.num_classes), dim=-1).indices
        metrics = {
            "accuracy": ((top[:, 0] == labels).sum().float(), count),
            "top5": ((top == labels[:, None]).any(-1).sum().float(), count),
        }
        return TaskOutput(loss, count, metrics)

    @torch.no_grad()
    def predictions(self, model: nn.Module, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """True labels and predicted probabilities over the held-out set (eval view)."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        labels, probs = [], []
        try:
            for batch in DataLoader(self._eval_data(), batch_size=batch_size):
                x = self.eval_transform.to(device)(batch["image"].to(device))
                probs.append(model(x).float().softmax(-1).cpu())
                labels.append(batch["label"])
        finally:
            model.train(was_training)
        return torch.cat(labels), torch.cat(probs)

    def finish(self, model: nn.Module, run_dir: Path) -> list[Path]:
        """``confusion.png`` and ``per_class.json`` (accuracy per class) over the held-out set."""
        labels, probs = self.predictions(model)
        k = self.num_classes
        confusion = torch.bincount(labels * k + probs.argmax(-1), minlength=k * k).view(k, k)
        names = _names(model, k)
        per_class = confusion.diag() / confusion.sum(1).clamp(min=1)
        report = {
            "images": len(labels),
            "accuracy": float(confusion.diag().sum() / confusion.sum().clamp(min=1)),
            "per_class_accuracy": {name: round(float(a), 4) for name, a in zip(names, per_class, strict=True)},
            "confusion": confusion.tolist(),
        }
        json_path = run_dir / "per_class.json"
        json_path.write_text(json.dumps(report, indent=1) + "\n")
        png = save_confusion(run_dir / "confusion.png", confusion, names)
        return [json_path, png]

    @torch.no_grad()
    def demo(self, model: nn.Module) -> str:
        """The first held-out images: true class and the top-2 predictions."""
        data = self._eval_data()
        batch = next(iter(DataLoader(data, batch_size=min(6, len(data)))))
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            probs = model(self.eval_transform.to(device)(batch["image"].to(device))).float().softmax(-1).cpu()
        finally:
            model.train(was_training)
        names = _names(model, self.num_classes)
        lines = []
        for label, p in zip(batch["label"].tolist(), probs, strict=True):
            top = p.topk(min(2, len(p)))
            guesses = ", ".join(
                f"{names[i]} {v:.2f}" for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
            )
            lines.append(f"  true {names[label]:<14} predicted {guesses}")
        return "held-out images:\n" + "\n".join(lines)


def _names(model: nn.Module, num_classes: int) -> list[str]:
    return (
        class_names(model, num_classes)
        if isinstance(model, PerceiverIO)
        else [f"class {i}" for i in range(num_classes)]
    )
