"""Image input: the four preprocessings, SAME padding vs HF's, position features, clear errors, save/load."""

import pytest
import torch
import torch.nn.functional as F

import torchperceiver as tp
from torchperceiver.adapters.downsample import ConvDownsample, pad_same, same_padding
from torchperceiver.adapters.image import ImageContext, ImageInputConfig
from torchperceiver.adapters.patches import space_to_depth

TINY = dict(num_latents=8, latent_dim=32, num_blocks=2, num_layers=1, num_self_heads=4, num_classes=5)


def encode(images, **cfg):
    return ImageInputConfig(**cfg).build().eval()(images)


@pytest.mark.parametrize(
    "cfg, size, grid, channels",
    [
        (dict(), 20, (20, 20), 3 + 258),
        (dict(spatial_downsample=3), 20, (7, 7), 3 + 258),
        (dict(prep="conv1x1", out_channels=16, spatial_downsample=2), 21, (11, 11), 16 + 258),
        (dict(prep="conv", spatial_downsample=4, out_channels=8), 224, (56, 56), 8 + 258),
        (dict(prep="conv", spatial_downsample=4, out_channels=8, hf_conv_padding=True), 224, (55, 55), 8 + 258),
        (dict(prep="conv", out_channels=8, spatial_downsample=16), 64, (4, 4), 8 + 258),
        (dict(prep="patches", spatial_downsample=4), 16, (4, 4), 48 + 258),
        (dict(prep="patches", spatial_downsample=4, conv_after_patching=True, out_channels=10), 16, (4, 4), 10 + 258),
        (dict(num_bands=4, max_resolution=(8, 8), concat_pos=False, sine_only=True), 8, (8, 8), 3 + 8),
        (dict(position_encoding="learned", image_size=(12, 12), learned_channels=6), 12, (12, 12), 3 + 6),
        (dict(prep="conv1x1", position_encoding="learned", image_size=(12, 12), project_pos_dim=9), 12, (12, 12), 73),
    ],
)
def test_shapes(cfg, size, grid, channels):
    adapter = ImageInputConfig(**cfg).build().eval()
    x, mask, context = adapter(torch.randn(2, 3, size, size))
    assert adapter.grid_size(size, size) == grid
    assert x.shape == (2, grid[0] * grid[1], channels) and adapter.num_channels == channels
    assert mask is None and context == ImageContext(2, grid)


def test_pixels_downsample_rows_and_columns():
    """The official rule (HF slices the batch and channel axes instead)."""
    images = torch.randn(2, 3, 9, 8)
    x, _, _ = encode(images, spatial_downsample=2, num_bands=2, max_resolution=(5, 4))
    assert torch.equal(x[..., :3], images[:, :, ::2, ::2].permute(0, 2, 3, 1).flatten(1, 2))


def test_fourier_positions_follow_the_grid():
    x, _, _ = encode(torch.zeros(1, 3, 5, 7), num_bands=3, max_resolution=(5, 7))
    assert x[0, 0, 3:5].tolist() == [-1.0, -1.0] and x[0, -1, 3:5].tolist() == [1.0, 1.0]
    # Row-major: the second position is (row 0, col 1).
    torch.testing.assert_close(x[0, 1, 3:5], torch.tensor([-1.0, -1.0 + 2 / 6]))


def test_space_to_depth_order():
    images = torch.randn(2, 3, 8, 12)
    out = space_to_depth(images, 4)
    assert out.shape == (2, 2, 3, 48)
    b, i, j, dh, dw, c = 1, 1, 2, 3, 1, 2
    assert out[b, i, j, (dh * 4 + dw) * 3 + c] == images[b, c, i * 4 + dh, j * 4 + dw]


@pytest.mark.parametrize("size, expected", [(224, (2, 3)), (225, (3, 3)), (7, (3, 3)), (1, (3, 3))])
def test_same_padding_conv(size, expected):
    assert same_padding(size, 7, 2) == expected


def test_same_max_pool_matches_reference():
    """SAME pads an even size by one pixel after (a ceil-mode pool) and an odd size by one on each side."""
    even, odd = torch.randn(2, 4, 112, 112), torch.randn(2, 4, 111, 111)
    same = [F.max_pool2d(pad_same(x, 3, 2, value=float("-inf")), 3, 2) for x in (even, odd)]
    assert same[0].shape[-2:] == same[1].shape[-2:] == (56, 56)
    assert torch.equal(same[0], F.max_pool2d(even, 3, 2, ceil_mode=True))
    assert torch.equal(same[1], F.max_pool2d(odd, 3, 2, padding=1))


def test_official_and_hf_stems_differ():
    """Official SAME padding: 224 → 112 → 56. HF: the conv is shifted one pixel and the pool is unpadded → 55."""
    images = torch.randn(1, 1, 224, 224)
    official, hf = ConvDownsample(1, 1), ConvDownsample(1, 1, hf_padding=True)
    for stem in (official, hf):
        with torch.no_grad():
            stem.convs[0].weight.zero_()[0, 0, 3, 3] = 1  # a kernel that copies its centre pixel
        stem.eval()
    assert official(images).shape[-2:] == (56, 56) and hf(images).shape[-2:] == (55, 55)
    for stem, size in ((official, 56), (hf, 55)):
        assert stem.output_size(224) == size and stem.output_size(225) == stem(torch.randn(1, 1, 225, 225)).shape[-1]
    # The conv alone: official output pixel i is centred on input 2i+1, HF's on input 2i.
    torch.testing.assert_close(official.convs[0](pad_same(images, 7, 2)), images[..., 1::2, 1::2])
    torch.testing.assert_close(hf.convs[0](F.pad(images, (3, 3, 3, 3))), images[..., ::2, ::2])


@pytest.mark.parametrize(
    "images, cfg, match",
    [
        (torch.randn(3, 8, 8), dict(), r"images: expected 4 dims \[batch, channels, height, width\], got shape"),
        (torch.randn(1, 4, 8, 8), dict(), r"images: expected channels = 3 \(dim 1\), got 4"),
        (torch.randint(0, 255, (1, 3, 8, 8)), dict(), "expected a floating-point tensor, got dtype torch.int64"),
        ([[1.0]], dict(), "images: expected a torch.Tensor, got list"),
        (torch.randn(1, 3, 10, 8), dict(position_encoding="learned", image_size=(8, 8)), r"8×8 .*learned.*got 10×8"),
        (torch.randn(1, 3, 3, 8), dict(prep="patches", spatial_downsample=4), "multiples of the patch size 4, got 3×8"),
        (torch.randn(1, 3, 12, 10), dict(prep="patches", spatial_downsample=4), "multiples of the patch size 4"),
        (
            torch.randn(1, 3, 6, 32),
            dict(prep="conv", spatial_downsample=4),
            r"height and width >= 7 \(conv kernel\), got 6×32",
        ),
        (torch.randn(1, 3, 27, 32), dict(prep="conv", spatial_downsample=16), ">= 28"),
    ],
)
def test_bad_images(images, cfg, match):
    with pytest.raises(ValueError, match=match):
        encode(images, **cfg)


def test_bad_attention_mask():
    with pytest.raises(ValueError, match=r"attention_mask: expected shape \(2, 64\), got \(2, 63\)"):
        ImageInputConfig(max_resolution=(8, 8)).build()(torch.randn(2, 3, 8, 8), torch.ones(2, 63))


@pytest.mark.parametrize(
    "cfg, match",
    [
        (dict(prep="conv3x3"), "prep: expected one of"),
        (dict(position_encoding="sine"), "position_encoding: expected one of"),
        (dict(spatial_downsample=0), "spatial_downsample: expected an integer >= 1, got 0"),
        (dict(prep="conv", spatial_downsample=2), "spatial_downsample: expected a power of 4 .* got 2"),
        (dict(prep="conv", spatial_downsample=1), "spatial_downsample: expected a power of 4 .* got 1"),
        (dict(position_encoding="learned"), r"image_size: expected \(height, width\) with learned positions, got None"),
        (dict(max_resolution=(8, 8, 8)), r"max_resolution: expected 2 values, got 3 in \(8, 8, 8\)"),
    ],
)
def test_bad_config(cfg, match):
    with pytest.raises(ValueError, match=match):
        ImageInputConfig(**cfg).build()


def test_presets_have_the_released_shapes():
    with torch.device("meta"):  # shapes only
        learned, fourier, conv = (tp.build(f"vision-{name}") for name in ("learned", "fourier", "conv"))
    assert [m.input_adapter.num_channels for m in (learned, fourier, conv)] == [512, 261, 322]
    assert learned.input_adapter.positions.table.shape == (224 * 224, 256)
    assert learned.input_adapter.pos_proj.weight.shape == (256, 256)
    assert conv.input_adapter.stem.convs[0].weight.shape == (64, 3, 7, 7)
    for model in (learned, fourier, conv):
        assert model.encoder.latents.shape == (512, 1024) and len(model.encoder.self_attends) == 6
        assert model.config.encoder.num_blocks == 8 and model.config.encoder.num_self_heads == 8
        assert model.config.encoder.num_cross_heads == 1
        assert model.output_adapter.head.weight.shape == (1000, 1024)
    assert [m.config.decoder.query_residual for m in (learned, fourier, conv)] == [False, True, True]
    assert conv.input_adapter.grid_size(224, 224) == (56, 56)


def test_fourier_preset_takes_any_image_size():
    model = tp.build("vision-fourier", **TINY).eval()
    assert model(torch.randn(2, 3, 20, 36)).shape == (2, 5)


def test_conv_stem_trains_batchnorm():
    model = tp.build("vision-conv", **TINY).train()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    norm = model.input_adapter.stem.norms[0]
    assert norm.num_batches_tracked == 1 and norm.running_mean.abs().sum() > 0
    assert model.input_adapter.stem.convs[0].weight.grad is not None


@pytest.mark.parametrize("name, size", [("vision-conv", 32), ("vision-learned", 12)])
def test_save_load_round_trip(tmp_path, name, size):
    overrides = dict(image_size=(size, size)) if name == "vision-learned" else {}
    model = tp.build(name, **TINY, **overrides).eval()
    if name == "vision-conv":
        norm = model.input_adapter.stem.norms[0]
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.5, 2.0)
    model.save_pretrained(tmp_path)
    loaded = tp.load(tmp_path).eval()
    assert loaded.config == model.config
    images = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.equal(loaded(images), model(images))
