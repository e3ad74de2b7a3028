"""Benchmark readers on tiny hand-made trees in the official layouts, and the Motorcycle pair."""

import numpy as np
import pytest
import torch
from PIL import Image

from torchperceiver.models.flow import datasets
from torchperceiver.models.flow.formats import write_flo, write_kitti_flow, write_pfm

H, W = 6, 8


def _image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((H, W, 3), value, np.uint8)).save(path)


def _flow(value):
    return np.full((H, W, 2), value, np.float32)


def _flo(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_flo(path, _flow(value))


def _check(item, first, flow_value):
    assert item["frame1"].shape == (3, H, W) and item["flow"].shape == (2, H, W) and item["valid"].shape == (H, W)
    assert item["frame1"][0, 0, 0] == pytest.approx(first / 255)
    assert torch.all(item["flow"] == flow_value)


def test_sintel(tmp_path):
    base = tmp_path / "training"
    for n in (1, 2, 3):
        _image(base / "clean" / "alley_1" / f"frame_{n:04d}.png", 10 * n)
        _image(base / "final" / "alley_1" / f"frame_{n:04d}.png", 10 * n + 1)
    for n in (1, 2):
        _flo(base / "flow" / "alley_1" / f"frame_{n:04d}.flo", n)
    invalid = np.zeros((H, W, 3), np.uint8)
    invalid[0, 0] = 255
    (base / "invalid" / "alley_1").mkdir(parents=True)
    Image.fromarray(invalid).save(base / "invalid" / "alley_1" / "frame_0002.png")
    clean = datasets.sintel(tmp_path, "clean")
    assert len(clean) == 2
    _check(clean[0], 10, 1)
    assert clean[0]["frame2"][0, 0, 0] == pytest.approx(20 / 255)
    assert clean[0]["valid"].all() and not clean[1]["valid"][0, 0] and clean[1]["valid"].sum() == H * W - 1
    _check(datasets.sintel(tmp_path, "final")[1], 21, 2)
    with pytest.raises(ValueError, match="pass_name"):
        datasets.sintel(tmp_path, "albedo")


def test_kitti(tmp_path):
    base = tmp_path / "training"
    _image(base / "image_2" / "000000_10.png", 5)
    _image(base / "image_2" / "000000_11.png", 6)
    (base / "flow_occ").mkdir(parents=True)
    valid = np.ones((H, W), bool)
    valid[1, 1] = False
    write_kitti_flow(base / "flow_occ" / "000000_10.png", _flow(1.5), valid)
    item = datasets.kitti2015(tmp_path)[0]
    assert item["frame1"][0, 0, 0] == pytest.approx(5 / 255) and item["frame2"][0, 0, 0] == pytest.approx(6 / 255)
    assert not item["valid"][1, 1] and item["flow"][0, 0, 0] == 1.5 and item["flow"][0, 1, 1] == 0


def test_flying_chairs_split(tmp_path):
    for n in (1, 2, 3):
        _image(tmp_path / "data" / f"{n:05d}_img1.ppm", n)
        _image(tmp_path / "data" / f"{n:05d}_img2.ppm", n)
        _flo(tmp_path / "data" / f"{n:05d}_flow.flo", n)
    (tmp_path / "FlyingChairs_train_val.txt").write_text("1\n2\n1\n")
    assert len(datasets.flying_chairs(tmp_path, "train")) == 2
    validation = datasets.flying_chairs(tmp_path, "validation")
    assert len(validation) == 1
    _check(validation[0], 2, 2)
    assert len(datasets.flying_chairs(tmp_path, "all")) == 3


def test_flying_things(tmp_path):
    frames = tmp_path / "frames_cleanpass" / "TRAIN" / "A" / "0000" / "left"
    _image(frames / "0006.png", 6)
    _image(frames / "0007.png", 7)
    flows = tmp_path / "optical_flow" / "TRAIN" / "A" / "0000" / "into_future" / "left"
    flows.mkdir(parents=True)
    uvw = np.concatenate([_flow(2.0), np.zeros((H, W, 1), np.float32)], axis=2)
    write_pfm(flows / "OpticalFlowIntoFuture_0006_L.pfm", uvw)
    write_pfm(flows / "OpticalFlowIntoFuture_0007_L.pfm", uvw)  # no frame 8: skipped
    things = datasets.flying_things(tmp_path, "clean", "TRAIN")
    assert len(things) == 1
    _check(things[0], 6, 2.0)


def test_middlebury_and_missing_root(tmp_path):
    _image(tmp_path / "other-data" / "Dimetrodon" / "frame10.png", 3)
    _image(tmp_path / "other-data" / "Dimetrodon" / "frame11.png", 4)
    _flo(tmp_path / "other-gt-flow" / "Dimetrodon" / "flow10.flo", -1)
    _check(datasets.middlebury(tmp_path)[0], 3, -1)
    with pytest.raises(ValueError, match="root"):
        datasets.kitti2015(tmp_path / "nowhere")


def test_motorcycle_is_negative_disparity():
    full = datasets.motorcycle()
    assert full["frame1"].shape == (3, 500, 741)
    flow, valid = full["flow"], full["valid"]
    assert 0.5 < valid.float().mean() < 1
    assert torch.all(flow[1] == 0) and flow[0][valid].max() < 0 and flow[0][valid].min() > -70
    small = datasets.motorcycle(1 / 16)
    assert small["frame1"].shape == (3, 31, 46)
    ratio = small["flow"][0][small["valid"]].mean() / flow[0][valid].mean()
    assert ratio == pytest.approx(46 / 741, rel=0.15)
