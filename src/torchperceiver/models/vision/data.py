"""Image classification data: IDX files (MNIST layout), ImageFolder trees, NumPy arrays, HF ``datasets``.

Every dataset yields ``{"image": uint8 [C, S, S], "label": int64}`` at one fixed square size ``S`` so batches
stack; augmentation (crops, flips, RandAugment, MixUp/CutMix) then runs batched on the training device
(``augment.py``). Files are decoded in ``__getitem__``, i.e. in DataLoader workers. An unreadable image is
reported by path: ``on_error='raise'`` stops with a one-line ``ValueError``, ``'skip'`` warns and serves the
next readable file of the tree instead.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_LABELS = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
OnError = Literal["raise", "skip"]
_IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (the MNIST format: magic ``0 0 type ndim``, big-endian sizes, data), gzipped or not."""
    path = Path(path)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: expected a readable IDX file, got {err}") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: expected an IDX file (magic 0x0000TTNN), got header {data[:4].hex() or 'empty'}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: expected {ndim} dimension sizes in the header, got a {len(data)}-byte file")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: expected {expected} data bytes for shape {shape}, got {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class ArrayDataset(Dataset):
    """In-memory ``images`` (``[N, H, W]`` or ``[N, H, W, C]`` uint8) and integer ``labels`` ``[N]``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: Sequence[str] = ()) -> None:
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"images: expected uint8 [N, H, W(, C)], got {images.dtype} {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(f"labels: expected shape ({len(images)},), got {labels.shape}")
        self.images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # [N, C, H, W], a view
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.classes = tuple(classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[index], "label": self.labels[index]}


def idx_dataset(images: str | os.PathLike, labels: str | os.PathLike, classes: Sequence[str] = ()) -> ArrayDataset:
    """A dataset from an IDX image file ``[N, H, W]`` and its IDX label file ``[N]``."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise ValueError(f"{images}: expected uint8 images [N, H, W], got {x.dtype} {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"{labels}: expected {len(x)} labels (one per image in {images}), got shape {y.shape}")
    return ArrayDataset(x, y, classes)


def numpy_dataset(path: str | os.PathLike, classes: Sequence[str] = ()) -> ArrayDataset:
    """An ``.npz`` file holding ``images`` (uint8 ``[N, H, W(, C)]``) and ``labels`` (``[N]``)."""
    with np.load(path) as archive:
        missing = {"images", "labels"} - set(archive.files)
        if missing:
            raise ValueError(f"{path}: expected arrays 'images' and 'labels', got {sorted(archive.files)}")
        return ArrayDataset(archive["images"], archive["labels"], classes)


def fashion_mnist(split: Literal["train", "test"], root: str | os.PathLike = FASHION_MNIST_DIR) -> ArrayDataset:
    """Fashion-MNIST (60,000 train / 10,000 test 28×28 grey images) from the Debian package's IDX files."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    root = Path(root)
    images, labels = root / f"{prefix}-images-idx3-ubyte.gz", root / f"{prefix}-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        raise ValueError(
            f"data.root: expected Fashion-MNIST IDX files in {root}, got none; install them with "
            f"`apt-get install {FASHION_MNIST_PACKAGE}` (Debian/Ubuntu) or point data.root at a copy"
        )
    return idx_dataset(images, labels, FASHION_MNIST_LABELS)


@dataclass(frozen=True)
class Decode:
    """How a file becomes a training item: ``size`` (square side), ``channels`` (1 grey or 3 RGB)."""

    size: int
    channels: int = 3


def load_image(path: str | os.PathLike | IO[bytes], decode: Decode) -> torch.Tensor:
    """``uint8 [C, S, S]``: the shorter side resized to ``S`` (bilinear, antialiased), then the centre square.

    Random crops for training are taken later from this square, on the device; evaluation centre-crops it
    again (224 of 256 for ImageNet).
    """
    from PIL import Image, ImageOps

    with Image.open(path) as file:
        image = ImageOps.exif_transpose(file).convert("L" if decode.channels == 1 else "RGB")
    width, height = image.size
    scale = decode.size / min(width, height)
    new = (max(decode.size, round(width * scale)), max(decode.size, round(height * scale)))
    left, top = (new[0] - decode.size) // 2, (new[1] - decode.size) // 2
    box = (left, top, left + decode.size, top + decode.size)
    array = np.asarray(image.resize(new, Image.Resampling.BILINEAR).crop(box), dtype=np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


class ImageFolder(Dataset):
    """``root/<class>/<image>`` (classes sorted by folder name), decoded with Pillow in ``__getitem__``."""

    def __init__(self, root: str | os.PathLike, decode: Decode, on_error: OnError = "raise") -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
        self.root, self.decode, self.on_error = Path(root), decode, on_error
        if not self.root.is_dir():
            raise ValueError(f"root: expected a folder with one sub-folder per class, got {self.root}")
        self.classes = tuple(sorted(p.name for p in self.root.iterdir() if p.is_dir()))
        self.samples = [
            (path, label)
            for label, name in enumerate(self.classes)
            for path in sorted((self.root / name).rglob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
        ]
        if not self.samples:
            raise ValueError(f"root: expected image files ({', '.join(IMAGE_SUFFIXES)}) in class folders of {root}")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        for offset in range(len(self.samples)):
            path, label = self.samples[(index + offset) % len(self.samples)]
            try:
                image = load_image(path, self.decode)
            except Exception as err:  # Pillow raises many types for a damaged file
                message = f"{path}: unreadable image ({type(err).__name__}: {err})"
                if self.on_error == "raise":
                    raise ValueError(f"{message}; set data.on_error=skip to train without it") from None
                warnings.warn(f"{message}; skipped", stacklevel=2)
                continue
            return {"image": image, "label": torch.tensor(label)}
        raise ValueError(f"root: expected at least one readable image under {self.root}, got none")

    def check_files(self) -> list[Path]:
        """Paths Pillow cannot identify (header check, no full decode); fast enough for small trees."""
        from PIL import Image

        bad = []
        for path, _ in self.samples:
            try:
                with Image.open(path) as img:
                    img.verify()
            except Exception:
                bad.append(path)
        return bad


class HFImageDataset(Dataset):
    """A split of a local Hugging Face ``datasets`` dataset (``load_from_disk``) with an image and a label column."""

    def __init__(self, path: str | os.PathLike, split: str, decode: Decode, image_key: str = "image") -> None:
        try:
            from datasets import load_from_disk
        except ImportError as err:
            raise ValueError("data.format: 'hf' needs the `datasets` package (pip install datasets)") from err
        data: Any = load_from_disk(str(path))
        self.data = data[split] if split in getattr(data, "keys", dict)() else data
        self.decode, self.image_key = decode, image_key
        names = getattr(self.data.features.get("label"), "names", None)
        self.classes = tuple(names or ())

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = self.data[int(index)]
        image = row[self.image_key]
        if isinstance(image, dict):  # undecoded: {"bytes": ..., "path": ...}
            import io

            image = io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"]
        return {"image": load_image(image, self.decode), "label": torch.tensor(int(row["label"]))}
