"""The flow benchmarks as a user has them on disk, plus the Middlebury Motorcycle stereo pair of scikit-image.

Every dataset yields dicts of ``frame1``, ``frame2`` (``[3, H, W]`` float in [0, 1]), ``flow`` (``[2, H, W]``
pixels, u right, v down) and ``valid`` (``[H, W]`` bool). Nothing downloads: each reader takes the folder
the benchmark unpacks to and lists its pairs in a stable order.

Layouts (the official archives, unchanged):

* MPI-Sintel: ``training/{clean,final}/<scene>/frame_0001.png``, ``training/flow/<scene>/frame_0001.flo``,
  optional ``training/invalid/<scene>/frame_0001.png`` (white = invalid).
* KITTI 2015: ``training/image_2/000000_10.png`` + ``_11.png``, ``training/flow_occ/000000_10.png``.
* FlyingChairs: ``data/00001_img1.ppm``, ``_img2.ppm``, ``_flow.flo``; ``FlyingChairs_train_val.txt`` (1 = train,
  2 = validation) splits when present.
* FlyingThings3D: ``frames_{clean,final}pass/{TRAIN,TEST}/<A|B|C>/<seq>/left/0006.png`` and
  ``optical_flow/{TRAIN,TEST}/<A|B|C>/<seq>/into_future/left/OpticalFlowIntoFuture_0006_L.pfm``.
* Middlebury: ``other-data/<Scene>/frame10.png`` + ``frame11.png``, ``other-gt-flow/<Scene>/flow10.flo``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from torchperceiver.models.flow.formats import read_flow, read_image

Pair = tuple[Path, Path, Path, Path | None]  # frame 1, frame 2, flow, optional invalid-mask image


def to_item(frame1: np.ndarray, frame2: np.ndarray, flow: np.ndarray, valid: np.ndarray) -> dict[str, torch.Tensor]:
    """numpy ``[H, W, 3]`` uint8 frames, ``[H, W, 2]`` flow, ``[H, W]`` valid → the torch item layout."""
    if frame1.shape != frame2.shape or frame1.shape[:2] != flow.shape[:2]:
        raise ValueError(
            f"frame2: expected frames and flow of one size, got {frame1.shape}, {frame2.shape}, flow {flow.shape}"
        )
    return {
        "frame1": torch.tensor(frame1).permute(2, 0, 1).float() / 255,
        "frame2": torch.tensor(frame2).permute(2, 0, 1).float() / 255,
        "flow": torch.tensor(flow, dtype=torch.float32).permute(2, 0, 1),
        "valid": torch.tensor(valid, dtype=torch.bool),
    }


class FlowPairs(Dataset):
    """Pairs of files read on access; ``name`` says which benchmark and split (for logs)."""

    def __init__(self, pairs: list[Pair], name: str) -> None:
        if not pairs:
            raise ValueError(f"root: expected {name} image pairs with flow, found none")
        self.pairs, self.name = pairs, name

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        first, second, flow_path, invalid_path = self.pairs[index]
        flow, valid = read_flow(flow_path)
        if invalid_path is not None and invalid_path.exists():
            valid &= read_image(invalid_path)[:, :, 0] < 128
        return to_item(read_image(first), read_image(second), flow, valid)


def _root(root: str | Path, child: str) -> Path:
    path = Path(root)
    if not (path / child).is_dir():
        raise ValueError(f"root: expected a folder with {child}/ inside, got {str(path)!r}")
    return path


def sintel(root: str | Path, pass_name: str = "clean") -> FlowPairs:
    """MPI-Sintel training pairs of one pass (``clean`` or ``final``): consecutive frames with ground truth."""
    if pass_name not in ("clean", "final"):
        raise ValueError(f"pass_name: expected 'clean' or 'final', got {pass_name!r}")
    base = _root(root, "training") / "training"
    pairs: list[Pair] = []
    for flow_path in sorted((base / "flow").glob("*/frame_*.flo")):
        scene, number = flow_path.parent.name, int(flow_path.stem.split("_")[1])
        first = base / pass_name / scene / f"frame_{number:04d}.png"
        second = base / pass_name / scene / f"frame_{number + 1:04d}.png"
        pairs.append((first, second, flow_path, base / "invalid" / scene / f"frame_{number:04d}.png"))
    return FlowPairs(pairs, f"sintel-{pass_name}")


def kitti2015(root: str | Path, occluded: bool = True) -> FlowPairs:
    """KITTI 2015 training pairs; ``occluded`` picks ``flow_occ`` (all pixels) over ``flow_noc``."""
    base = _root(root, "training") / "training"
    folder = "flow_occ" if occluded else "flow_noc"
    pairs: list[Pair] = [
        (base / "image_2" / p.name, base / "image_2" / p.name.replace("_10.png", "_11.png"), p, None)
        for p in sorted((base / folder).glob("*_10.png"))
    ]
    return FlowPairs(pairs, f"kitti2015-{folder}")


def flying_chairs(root: str | Path, split: str = "train") -> FlowPairs:
    """FlyingChairs pairs of ``split`` (``train``, ``validation`` or ``all``; the split file decides)."""
    if split not in ("train", "validation", "all"):
        raise ValueError(f"split: expected 'train', 'validation' or 'all', got {split!r}")
    base = _root(root, "data")
    flows = sorted((base / "data").glob("*_flow.flo"))
    split_file = base / "FlyingChairs_train_val.txt"
    if split != "all" and split_file.exists():
        labels = split_file.read_text().split()
        if len(labels) != len(flows):
            raise ValueError(f"root: expected {len(flows)} labels in {split_file.name}, got {len(labels)}")
        wanted = "1" if split == "train" else "2"
        flows = [f for f, label in zip(flows, labels, strict=True) if label == wanted]
    pairs: list[Pair] = []
    for flow_path in flows:
        stem = flow_path.name[: -len("_flow.flo")]
        pairs.append(
            (flow_path.with_name(f"{stem}_img1.ppm"), flow_path.with_name(f"{stem}_img2.ppm"), flow_path, None)
        )
    return FlowPairs(pairs, f"chairs-{split}")


def flying_things(root: str | Path, pass_name: str = "clean", split: str = "TRAIN") -> FlowPairs:
    """FlyingThings3D left-view pairs (frame t, t+1) with their into-future flow."""
    if pass_name not in ("clean", "final") or split not in ("TRAIN", "TEST"):
        raise ValueError(f"pass_name, split: expected clean|final and TRAIN|TEST, got {pass_name!r}, {split!r}")
    base = _root(root, "optical_flow")
    pairs: list[Pair] = []
    for flow_path in sorted((base / "optical_flow" / split).glob("*/*/into_future/left/*.pfm")):
        sequence = flow_path.parents[2]
        number = int(flow_path.stem.split("_")[1])
        frames = base / f"frames_{pass_name}pass" / split / sequence.parent.name / sequence.name / "left"
        second = frames / f"{number + 1:04d}.png"
        if second.exists():
            pairs.append((frames / f"{number:04d}.png", second, flow_path, None))
    return FlowPairs(pairs, f"things-{pass_name}-{split}")


def middlebury(root: str | Path) -> FlowPairs:
    """Middlebury's public pairs with ground truth (frame10 → frame11)."""
    base = _root(root, "other-gt-flow")
    pairs: list[Pair] = []
    for flow_path in sorted((base / "other-gt-flow").glob("*/flow10.flo")):
        scene = base / "other-data" / flow_path.parent.name
        pairs.append((scene / "frame10.png", scene / "frame11.png", flow_path, None))
    return FlowPairs(pairs, "middlebury")


def downscale(item: dict[str, torch.Tensor], factor: float) -> dict[str, torch.Tensor]:
    """Shrink a pair by ``factor`` (≤ 1): frames with antialiasing, flow averaged over valid pixels and
    multiplied by ``factor``; a pixel stays valid if most (over half) of its footprint was."""
    if not 0 < factor <= 1:
        raise ValueError(f"factor: expected a value in (0, 1], got {factor}")
    if factor == 1:
        return item
    height, width = item["flow"].shape[-2:]
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    frames = torch.stack([item["frame1"], item["frame2"]])
    frames = F.interpolate(frames, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    valid = item["valid"].float()[None, None]
    coverage = F.interpolate(valid, size=size, mode="area")
    flow = F.interpolate((item["flow"] * valid[0])[None], size=size, mode="area") / coverage.clamp(min=1e-6)
    return {
        "frame1": frames[0],
        "frame2": frames[1],
        "flow": flow[0] * torch.tensor([size[1] / width, size[0] / height])[:, None, None],
        "valid": coverage[0, 0] > 0.5,
    }


def motorcycle(factor: float = 1.0) -> dict[str, torch.Tensor]:
    """The Middlebury 2014 Motorcycle stereo pair (scikit-image): flow u = -disparity, v = 0; ``inf`` = invalid.

    Full size is 500 × 741 with disparities of 7-60 px; ``factor`` shrinks it (see ``downscale``).
    """
    import skimage.data

    left, right, disparity = skimage.data.stereo_motorcycle()
    valid = np.isfinite(disparity)
    flow = np.stack([np.where(valid, -disparity, 0), np.zeros_like(disparity)], axis=2)
    return downscale(to_item(left, right, flow, valid), factor)
