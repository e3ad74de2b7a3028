"""16-bit RGB PNG read/write in numpy + zlib (KITTI stores flow this way; Pillow truncates it to 8 bits).

Only what KITTI needs: bit depth 16, colour type 2 (RGB), no interlacing. The reader undoes all five
PNG row filters; None/Sub/Up are vectorised, Average/Paeth run a byte loop (about a second for a full
KITTI frame written with adaptive filtering). The writer uses filter 0.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BYTES_PER_PIXEL = 6


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path: str | Path, image: np.ndarray) -> None:
    """Write ``[H, W, 3]`` uint16 as a 48-bit RGB PNG."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint16:
        raise ValueError(f"image: expected a [H, W, 3] uint16 array, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    rows = np.zeros((height, 1 + width * BYTES_PER_PIXEL), np.uint8)
    rows[:, 1:] = image.astype(">u2").view(np.uint8).reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    data = SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
    Path(path).write_bytes(data + _chunk(b"IEND", b""))


def _chunks(data: bytes, path: str) -> dict[bytes, list[bytes]]:
    if not data.startswith(SIGNATURE):
        raise ValueError(f"path: expected a PNG file (signature {SIGNATURE!r}), got {data[:8]!r} in {path!r}")
    chunks: dict[bytes, list[bytes]] = {}
    offset = len(SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if offset + 12 + length > len(data):
            raise ValueError(
                f"path: expected a complete {kind.decode(errors='replace')} chunk, got a truncated PNG {path!r}"
            )
        chunks.setdefault(kind, []).append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
        if kind == b"IEND":
            return chunks
    raise ValueError(f"path: expected an IEND chunk, got a truncated PNG {path!r}")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, raw: np.ndarray, prev: np.ndarray) -> np.ndarray:
    bpp = BYTES_PER_PIXEL
    if kind == 0:
        return raw
    if kind == 1:
        return np.cumsum(raw.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
    if kind == 2:
        return raw + prev
    if kind not in (3, 4):
        raise ValueError(f"filter: expected a PNG row filter 0-4, got {kind}")
    out = [0] * len(raw)
    raws, above = raw.tolist(), prev.tolist()
    for i, value in enumerate(raws):
        left = out[i - bpp] if i >= bpp else 0
        upper_left = above[i - bpp] if i >= bpp else 0
        predictor = (left + above[i]) // 2 if kind == 3 else _paeth(left, above[i], upper_left)
        out[i] = (value + predictor) & 0xFF
    return np.asarray(out, np.uint8)


def read_png16(path: str | Path) -> np.ndarray:
    """``[H, W, 3]`` uint16 from a 48-bit RGB, non-interlaced PNG."""
    data = Path(path).read_bytes()
    chunks = _chunks(data, str(path))
    if b"IHDR" not in chunks or b"IDAT" not in chunks:
        raise ValueError(
            f"path: expected IHDR and IDAT chunks, got {sorted(k.decode() for k in chunks)} in {str(path)!r}"
        )
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    if (depth, colour, interlace) != (16, 2, 0):
        raise ValueError(
            f"path: expected a 16-bit RGB non-interlaced PNG, got bit depth {depth}, colour type {colour}, "
            f"interlace {interlace} in {str(path)!r}"
        )
    stride = 1 + width * BYTES_PER_PIXEL
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(chunks[b"IDAT"])), np.uint8)
    except zlib.error as error:
        raise ValueError(f"path: expected valid compressed image data, got {error} in {str(path)!r}") from None
    if raw.size != height * stride:
        raise ValueError(f"path: expected {height * stride} bytes of image data, got {raw.size} in {str(path)!r}")
    rows = raw.reshape(height, stride)
    out = np.zeros((height, stride - 1), np.uint8)
    prev = np.zeros(stride - 1, np.uint8)
    for r in range(height):
        prev = out[r] = _unfilter(int(rows[r, 0]), rows[r, 1:], prev)
    return out.view(">u2").reshape(height, width, 3).astype(np.uint16)
