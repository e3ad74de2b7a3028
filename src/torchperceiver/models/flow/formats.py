"""Flow file formats of the benchmarks: Middlebury ``.flo``, ``.pfm`` (FlyingThings3D) and KITTI's 16-bit PNG.

All readers return numpy arrays: flow ``[H, W, 2]`` float32 (u right, v down, in pixels) and, for KITTI, a
``[H, W]`` bool valid mask. A wrong magic number, an unknown size or a truncated file is a ``ValueError``
naming the file, never a silent misread.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from torchperceiver.models.flow.png16 import read_png16, write_png16

FLO_MAGIC = 202021.25  # b"PIEH" read as a little-endian float32
FLO_HEADER = 12
KITTI_SCALE = 64.0
KITTI_OFFSET = 2**15
_PFM_HEADER = re.compile(rb"(PF|Pf)\s+(\d+)\s+(\d+)\s+([-+0-9.eE]+)\s")


def _check_flow(name: str, flow: np.ndarray) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{name}: expected a [H, W, 2] flow array, got shape {flow.shape}")
    return flow.astype(np.float32)


def read_flo(path: str | Path) -> np.ndarray:
    """A Middlebury ``.flo`` file (magic ``PIEH``, int32 width and height, then u, v float32 per pixel)."""
    data = Path(path).read_bytes()
    if len(data) < FLO_HEADER:
        raise ValueError(f"path: expected a .flo header of {FLO_HEADER} bytes, got {len(data)} in {str(path)!r}")
    magic = np.frombuffer(data, "<f4", 1)[0]
    if magic != np.float32(FLO_MAGIC):
        raise ValueError(f"path: expected the .flo magic PIEH ({FLO_MAGIC}), got {data[:4]!r} in {str(path)!r}")
    width, height = (int(v) for v in np.frombuffer(data, "<i4", 2, offset=4))
    if width <= 0 or height <= 0 or width * height > 2**28:
        raise ValueError(f"path: expected a positive width and height, got {width} × {height} in {str(path)!r}")
    expected = FLO_HEADER + width * height * 8
    if len(data) != expected:
        raise ValueError(
            f"path: expected {expected} bytes for a {width} × {height} .flo, got {len(data)} (truncated?) "
            f"in {str(path)!r}"
        )
    return np.frombuffer(data, "<f4", offset=FLO_HEADER).reshape(height, width, 2).copy()


def write_flo(path: str | Path, flow: np.ndarray) -> None:
    """Write ``[H, W, 2]`` flow as ``.flo`` (always little-endian, as the format says)."""
    flow = _check_flow("flow", flow)
    height, width = flow.shape[:2]
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    Path(path).write_bytes(header + flow.astype("<f4").tobytes())


def read_pfm(path: str | Path) -> np.ndarray:
    """A ``.pfm`` file as ``[H, W, C]`` float32 top row first (``PF``: C = 3, ``Pf``: C = 1).

    The scale's sign gives the byte order (negative: little-endian); rows are stored bottom to top.
    """
    data = Path(path).read_bytes()
    match = _PFM_HEADER.match(data)
    if match is None:
        raise ValueError(
            f"path: expected a PFM header 'PF'/'Pf', width, height, scale; got {data[:16]!r} in {str(path)!r}"
        )
    kind, width, height, scale = match.group(1), int(match.group(2)), int(match.group(3)), float(match.group(4))
    channels = 3 if kind == b"PF" else 1
    if scale == 0:
        raise ValueError(f"path: expected a non-zero PFM scale (its sign is the byte order), got 0 in {str(path)!r}")
    expected = width * height * channels * 4
    body = data[match.end() :]
    if len(body) != expected:
        raise ValueError(
            f"path: expected {expected} data bytes for a {width} × {height} × {channels} PFM, got {len(body)} "
            f"(truncated?) in {str(path)!r}"
        )
    dtype = "<f4" if scale < 0 else ">f4"
    array = np.frombuffer(body, dtype).reshape(height, width, channels)
    return array[::-1].astype(np.float32)


def write_pfm(path: str | Path, array: np.ndarray, little_endian: bool = True) -> None:
    """Write ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]`` floats as ``.pfm`` (rows bottom to top)."""
    array = np.asarray(array, np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ValueError(f"array: expected shape [H, W], [H, W, 1] or [H, W, 3], got {array.shape}")
    height, width, channels = array.shape
    header = f"{'PF' if channels == 3 else 'Pf'}\n{width} {height}\n{-1.0 if little_endian else 1.0}\n"
    body = array[::-1].astype("<f4" if little_endian else ">f4").tobytes()
    Path(path).write_bytes(header.encode() + body)


def read_pfm_flow(path: str | Path) -> np.ndarray:
    """FlyingThings3D flow: the first two channels of a 3-channel PFM."""
    array = read_pfm(path)
    if array.shape[2] != 3:
        raise ValueError(
            f"path: expected a 3-channel PFM (PF) holding flow, got {array.shape[2]} channel in {str(path)!r}"
        )
    return np.ascontiguousarray(array[:, :, :2])


def read_kitti_flow(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """KITTI 2015 flow PNG: ``(u, v) = (R, G - 2¹⁵) / 64``, valid where B is non-zero → (flow, valid)."""
    image = read_png16(path).astype(np.float32)
    flow = (image[:, :, :2] - KITTI_OFFSET) / KITTI_SCALE
    valid = image[:, :, 2] > 0
    flow[~valid] = 0
    return flow, valid


def write_kitti_flow(path: str | Path, flow: np.ndarray, valid: np.ndarray | None = None) -> None:
    """Write flow (±512 px, 1/64 px steps) and a valid mask as a KITTI 16-bit PNG."""
    flow = _check_flow("flow", flow)
    valid = np.ones(flow.shape[:2], bool) if valid is None else np.asarray(valid, bool)
    if valid.shape != flow.shape[:2]:
        raise ValueError(f"valid: expected shape {flow.shape[:2]}, got {valid.shape}")
    encoded = np.clip(np.round(flow * KITTI_SCALE + KITTI_OFFSET), 0, 2**16 - 1)
    image = np.concatenate([encoded, valid[:, :, None].astype(np.float32)], axis=2).astype(np.uint16)
    write_png16(path, image)


def read_flow(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Any supported flow file by suffix (``.flo``, ``.pfm``, ``.png`` = KITTI) → (flow, valid).

    ``.flo`` marks values above 1e9 (Middlebury's "unknown") invalid; every file marks non-finite ones invalid.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        flow = read_flo(path)
        valid = np.all(np.abs(flow) < 1e9, axis=2)
    elif suffix == ".pfm":
        flow = read_pfm_flow(path)
        valid = np.ones(flow.shape[:2], bool)
    elif suffix == ".png":
        flow, valid = read_kitti_flow(path)
    else:
        raise ValueError(f"path: expected a .flo, .pfm or KITTI .png flow file, got {str(path)!r}")
    valid &= np.all(np.isfinite(flow), axis=2)
    flow = np.where(valid[:, :, None], flow, 0).astype(np.float32)
    return flow, valid


def read_image(path: str | Path) -> np.ndarray:
    """An RGB image (``.png``, ``.ppm``, ``.jpg``, ...) as ``[H, W, 3]`` uint8."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except (OSError, SyntaxError) as error:
        raise ValueError(f"path: expected a readable image file, got {error} for {str(path)!r}") from None
