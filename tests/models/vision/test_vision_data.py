"""Image readers on small files of the real formats: IDX (gzipped and raw), ImageFolder (with a corrupt file), .npz."""

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from torchperceiver.models.vision import data


def _write_idx(path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_read_back(tmp_path, gz):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([2, 0, 1], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"x{suffix}", images, gz)
    _write_idx(tmp_path / f"y{suffix}", labels, gz)
    np.testing.assert_array_equal(data.read_idx(tmp_path / f"x{suffix}"), images)
    ds = data.idx_dataset(tmp_path / f"x{suffix}", tmp_path / f"y{suffix}")
    assert len(ds) == 3
    item = ds[1]
    assert item["image"].shape == (1, 4, 5) and item["image"].dtype.is_floating_point is False
    assert int(item["label"]) == 0


def test_bad_idx_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="expected an IDX file"):
        data.read_idx(tmp_path / "junk")
    _write_idx(tmp_path / "short", np.zeros((2, 3), np.uint8), gz=False)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match="expected 6 data bytes"):
        data.read_idx(tmp_path / "short")


def test_missing_fashion_mnist_names_the_debian_package(tmp_path):
    with pytest.raises(ValueError, match="apt-get install dataset-fashion-mnist"):
        data.fashion_mnist("train", tmp_path)


def _folder(root, sizes=((40, 30), (30, 50))):
    for name, colour in (("cat", (200, 10, 10)), ("dog", (10, 10, 200))):
        (root / name).mkdir(parents=True)
        for i, size in enumerate(sizes):
            Image.new("RGB", size, colour).save(root / name / f"{i}.png")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def test_image_folder_decodes_to_squares_and_reports_a_corrupt_file(tmp_path):
    root = _folder(tmp_path / "train")
    folder = data.ImageFolder(root, data.Decode(16, 3), on_error="raise")
    assert folder.classes == ("cat", "dog") and len(folder) == 5
    item = folder[0]
    assert item["image"].shape == (3, 16, 16) and int(item["label"]) == 0
    assert item["image"][0].float().mean() > 150  # the red channel of a red image
    broken = next(i for i, (path, _) in enumerate(folder.samples) if path.name == "broken.jpg")
    with pytest.raises(ValueError, match=r"broken\.jpg: unreadable image.*data\.on_error=skip"):
        folder[broken]
    assert folder.check_files() == [root / "dog" / "broken.jpg"]

    skipping = data.ImageFolder(root, data.Decode(16, 1), on_error="skip")
    with pytest.warns(UserWarning, match=r"broken\.jpg: unreadable image"):
        item = skipping[broken]
    assert item["image"].shape == (1, 16, 16)


def test_numpy_archives(tmp_path):
    np.savez(tmp_path / "train.npz", images=np.zeros((4, 8, 8, 3), np.uint8), labels=np.arange(4))
    ds = data.numpy_dataset(tmp_path / "train.npz", ("a", "b", "c", "d"))
    assert ds[3]["image"].shape == (3, 8, 8) and int(ds[3]["label"]) == 3
    np.savez(tmp_path / "bad.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="expected arrays 'images' and 'labels'"):
        data.numpy_dataset(tmp_path / "bad.npz")
