"""The flow file formats on hand-made files: round trips, byte orders, bad magic and truncation."""

import struct
import zlib

import numpy as np
import pytest

from torchperceiver.models.flow.formats import (
    read_flo,
    read_flow,
    read_kitti_flow,
    read_pfm,
    read_pfm_flow,
    write_flo,
    write_kitti_flow,
    write_pfm,
)
from torchperceiver.models.flow.png16 import read_png16, write_png16


def _flow(h=5, w=7):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((h, w, 2)) * 10).astype(np.float32)


def test_flo_round_trip_and_layout(tmp_path):
    flow = _flow()
    write_flo(tmp_path / "a.flo", flow)
    data = (tmp_path / "a.flo").read_bytes()
    assert data[:4] == b"PIEH"
    assert struct.unpack("<ii", data[4:12]) == (7, 5)  # width, then height
    assert struct.unpack("<ff", data[12:20]) == tuple(flow[0, 0])  # u, v of the top-left pixel first
    np.testing.assert_array_equal(read_flo(tmp_path / "a.flo"), flow)


def test_flo_errors(tmp_path):
    write_flo(tmp_path / "a.flo", _flow())
    data = (tmp_path / "a.flo").read_bytes()
    (tmp_path / "bad.flo").write_bytes(b"XXXX" + data[4:])
    with pytest.raises(ValueError, match="magic"):
        read_flo(tmp_path / "bad.flo")
    (tmp_path / "cut.flo").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_flo(tmp_path / "cut.flo")
    (tmp_path / "tiny.flo").write_bytes(data[:6])
    with pytest.raises(ValueError, match="header"):
        read_flo(tmp_path / "tiny.flo")


def test_flo_unknown_values_are_invalid(tmp_path):
    flow = _flow()
    flow[1, 2] = 1e10
    write_flo(tmp_path / "a.flo", flow)
    out, valid = read_flow(tmp_path / "a.flo")
    assert not valid[1, 2] and valid.sum() == valid.size - 1
    assert np.all(out[1, 2] == 0)


@pytest.mark.parametrize("little_endian", [True, False])
def test_pfm_round_trip_both_byte_orders(tmp_path, little_endian):
    array = np.arange(4 * 3 * 3, dtype=np.float32).reshape(4, 3, 3)
    write_pfm(tmp_path / "a.pfm", array, little_endian=little_endian)
    data = (tmp_path / "a.pfm").read_bytes()
    assert data.startswith(b"PF\n3 4\n" + (b"-1.0" if little_endian else b"1.0"))
    np.testing.assert_array_equal(read_pfm(tmp_path / "a.pfm"), array)
    np.testing.assert_array_equal(read_pfm_flow(tmp_path / "a.pfm"), array[:, :, :2])


def test_pfm_bottom_row_first_on_disk(tmp_path):
    array = np.array([[1.0], [2.0]], np.float32)  # 2 rows, 1 column, grey
    write_pfm(tmp_path / "g.pfm", array)
    data = (tmp_path / "g.pfm").read_bytes()
    assert data.startswith(b"Pf\n1 2\n")
    assert struct.unpack("<ff", data[-8:]) == (2.0, 1.0)
    np.testing.assert_array_equal(read_pfm(tmp_path / "g.pfm")[:, :, 0], array)


def test_pfm_errors(tmp_path):
    (tmp_path / "bad.pfm").write_bytes(b"P6\n3 4\n255\n" + bytes(36))
    with pytest.raises(ValueError, match="PFM header"):
        read_pfm(tmp_path / "bad.pfm")
    write_pfm(tmp_path / "a.pfm", np.zeros((4, 3, 3), np.float32))
    (tmp_path / "cut.pfm").write_bytes((tmp_path / "a.pfm").read_bytes()[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_pfm(tmp_path / "cut.pfm")
    write_pfm(tmp_path / "grey.pfm", np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="3-channel"):
        read_pfm_flow(tmp_path / "grey.pfm")


def test_kitti_round_trip(tmp_path):
    flow = np.round(_flow() * 64) / 64  # KITTI stores 1/64 px steps
    valid = np.ones(flow.shape[:2], bool)
    valid[0, :3] = False
    write_kitti_flow(tmp_path / "k.png", flow, valid)
    raw = read_png16(tmp_path / "k.png")
    assert raw.dtype == np.uint16 and raw[1, 1, 0] == flow[1, 1, 0] * 64 + 2**15
    out, out_valid = read_kitti_flow(tmp_path / "k.png")
    np.testing.assert_array_equal(out_valid, valid)
    np.testing.assert_array_equal(out[valid], flow[valid])
    assert np.all(out[~valid] == 0)
    same, _ = read_flow(tmp_path / "k.png")
    np.testing.assert_array_equal(same, out)


def _png_with_filters(image: np.ndarray, filters: list[int]) -> bytes:
    """A 16-bit RGB PNG whose rows use the given filter types (as libpng's adaptive writer does)."""
    height, width = image.shape[:2]
    rows = image.astype(">u2").view(np.uint8).reshape(height, -1).astype(np.int32)
    out = b""
    prev = np.zeros(rows.shape[1], np.int32)
    for r, kind in enumerate(filters):
        row = rows[r]
        left = np.concatenate([np.zeros(6, np.int32), row[:-6]])
        upper_left = np.concatenate([np.zeros(6, np.int32), prev[:-6]])
        if kind == 0:
            pred = np.zeros_like(row)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = prev
        elif kind == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upper_left
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upper_left)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upper_left))
        out += bytes([kind]) + ((row - pred) % 256).astype(np.uint8).tobytes()
        prev = row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(out)) + chunk(b"IEND", b"")


def test_png16_every_row_filter(tmp_path):
    image = np.random.default_rng(1).integers(0, 2**16, (5, 4, 3)).astype(np.uint16)
    (tmp_path / "f.png").write_bytes(_png_with_filters(image, [0, 1, 2, 3, 4]))
    np.testing.assert_array_equal(read_png16(tmp_path / "f.png"), image)
    write_png16(tmp_path / "w.png", image)
    np.testing.assert_array_equal(read_png16(tmp_path / "w.png"), image)


def test_png16_errors(tmp_path):
    write_png16(tmp_path / "w.png", np.zeros((3, 3, 3), np.uint16))
    data = (tmp_path / "w.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:40])
    with pytest.raises(ValueError, match="truncated"):
        read_png16(tmp_path / "cut.png")
    (tmp_path / "not.png").write_bytes(b"GIF89a" + data[6:])
    with pytest.raises(ValueError, match="signature"):
        read_png16(tmp_path / "not.png")
    from PIL import Image

    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(tmp_path / "rgb8.png")
    with pytest.raises(ValueError, match="16-bit RGB"):
        read_png16(tmp_path / "rgb8.png")


def test_read_flow_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.flo, \.pfm"):
        read_flow(tmp_path / "x.txt")
