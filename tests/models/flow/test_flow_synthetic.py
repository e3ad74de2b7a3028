"""The AutoFlow-style generator: exact flow (a backward warp of frame 2 reproduces frame 1 on visible pixels),
determinism by index, parameter checks, and augmentation that keeps the flow consistent."""

import pytest
import torch
import torch.nn.functional as F

from torchperceiver.models.flow.augment import AugmentConfig, augment
from torchperceiver.models.flow.synthetic import AutoFlowConfig, AutoFlowGenerator, sample_seed

# Tolerances of the warp check, in intensity units (frames in [0, 1]), on pixels whose 3×3 neighbourhood is
# visible (soft layer edges mix two layers' colours). The remaining residual is the bilinear resampling of
# a frame holding photo texture at pixel scale, so a median and a 90th-percentile bound, not a maximum.
MEDIAN_TOLERANCE = 0.01
P90_TOLERANCE = 0.04


def _still(**overrides):
    """No photometric change, no noise: frame 2 warped back must equal frame 1."""
    return AutoFlowConfig(size=(40, 56), brightness=0, contrast=0, gain=0, noise=0, **overrides)


def interior(mask):
    """Pixels whose whole 3×3 neighbourhood is in ``mask``."""
    return -F.max_pool2d(-mask.float()[:, None], 3, 1, 1)[:, 0] > 0.5


def backward_warp(frame2, flow):
    height, width = flow.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height).float(), torch.arange(width).float(), indexing="ij")
    gx = (xs + flow[:, 0]) * 2 / (width - 1) - 1
    gy = (ys + flow[:, 1]) * 2 / (height - 1) - 1
    return F.grid_sample(frame2, torch.stack([gx, gy], -1), align_corners=True)


@pytest.fixture(scope="module")
def generator():
    torch.set_num_threads(1)
    return AutoFlowGenerator(_still(), seed=3)


def test_flow_matches_backward_warp_on_visible_pixels(generator):
    s = generator(list(range(6)))
    assert s["frame1"].shape == (6, 3, 40, 56) and s["flow"].shape == (6, 2, 40, 56)
    assert s["visible"].dtype == torch.bool and 0.5 < s["visible"].float().mean() < 1
    assert s["flow"].abs().amax() > 1  # the scenes really move
    inside = interior(s["visible"])
    error = (backward_warp(s["frame2"], s["flow"]) - s["frame1"]).abs().mean(1)[inside]
    zero = (s["frame2"] - s["frame1"]).abs().mean(1)[inside]
    assert error.median() < MEDIAN_TOLERANCE
    assert error.quantile(0.9) < P90_TOLERANCE
    assert error.mean() < zero.mean() / 3


def test_deterministic_by_index_not_by_batch(generator):
    a = generator([5, 9])
    b = generator([9])
    for key in a:
        assert torch.equal(a[key][1], b[key][0])
    assert not torch.equal(a["flow"][0], a["flow"][1])
    assert not torch.equal(AutoFlowGenerator(_still(), seed=4)([9])["flow"], b["flow"])


def test_sample_seed_mixes():
    assert sample_seed(0, 1) != sample_seed(0, 2) != sample_seed(1, 1)
    assert sample_seed(0, 1) == sample_seed(0, 1)


def test_photometric_change_only_touches_frame2_colours():
    plain = AutoFlowGenerator(_still(), seed=3)([0])
    changed = AutoFlowGenerator(AutoFlowConfig(size=(40, 56), noise=0, brightness=0.2, gain=0), seed=3)([0])
    assert torch.equal(plain["frame1"], changed["frame1"]) and torch.equal(plain["flow"], changed["flow"])
    assert not torch.equal(plain["frame2"], changed["frame2"])


def test_user_texture_folder(tmp_path):
    from PIL import Image

    Image.fromarray((torch.rand(20, 30, 3) * 255).byte().numpy()).save(tmp_path / "t.png")
    gen = AutoFlowGenerator(AutoFlowConfig(size=(16, 16), texture_dir=str(tmp_path), skimage_photos=False))
    assert gen.num_textures == 1
    assert gen([0])["frame1"].shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="texture_dir"):
        AutoFlowGenerator(AutoFlowConfig(size=(16, 16), texture_dir=str(tmp_path / "missing")))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("size", (4, 32), "size"), ("min_layers", 9, "min_layers"), ("layer_radius", (0.5, 0.1), "layer_radius")],
)
def test_config_errors(field, value, match):
    with pytest.raises(ValueError, match=match):
        AutoFlowConfig(**{field: value})


def test_augmented_pairs_keep_flow_consistent(generator):
    s = generator([1, 2, 3, 4])
    cfg = AugmentConfig(scale=(0.8, 1.0), hflip=0.5, vflip=0.5)
    out = augment(s, (24, 32), cfg, seed=0, indices=[1, 2, 3, 4])
    assert out["frame1"].shape == (4, 3, 24, 32) and out["visible"].dtype == torch.bool
    error = (backward_warp(out["frame2"], out["flow"]) - out["frame1"]).abs().mean(1)[interior(out["visible"])]
    assert error.median() < 2 * MEDIAN_TOLERANCE
    # A forced horizontal flip mirrors the frames and negates u.
    flipped = augment(s, (40, 56), AugmentConfig(scale=(1.0, 1.0), hflip=1.0, vflip=0.0), seed=0, indices=[1, 2, 3, 4])
    torch.testing.assert_close(flipped["frame1"], s["frame1"].flip(-1))
    torch.testing.assert_close(flipped["flow"][:, 0], -s["flow"][:, 0].flip(-1))
    torch.testing.assert_close(flipped["flow"][:, 1], s["flow"][:, 1].flip(-1))
