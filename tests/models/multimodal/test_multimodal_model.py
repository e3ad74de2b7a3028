"""Multimodal autoencoder without HF: batching, chunked reconstruction, masking, save/load, errors."""

import pytest
import torch
import torch.nn.functional as F

import torchperceiver as tp
from tensor_utils import max_abs_diff
from torchperceiver.adapters.audio import AudioInputConfig, AudioOutputConfig
from torchperceiver.adapters.video import VideoInputConfig, VideoOutputConfig
from torchperceiver.models.multimodal.reconstruct import reconstruct

SMALL_PRESET = dict(
    num_latents=16, latent_dim=64, num_layers=2, num_frames=2, image_size=(16, 16), num_samples=128, num_classes=10
)


def _inputs(batch: int, frames: int = 2, size: int = 16, samples: int = 128, classes: int = 10) -> dict:
    return {
        "audio": torch.randn(batch, samples),
        "image": torch.randn(batch, frames, 3, size, size),
        "label": F.one_hot(torch.randint(classes, (batch,)), classes).float(),
    }


def _small_model() -> tp.PerceiverIO:
    return tp.build("multimodal-ae", **SMALL_PRESET).eval()


def test_batch_equals_single_samples():
    model = _small_model()
    inputs = _inputs(3)
    points = {"image": torch.tensor([511, 0, 77]), "audio": torch.tensor([2, 7])}
    with torch.no_grad():
        for args in ({}, {"subsampled_points": points}):
            batched = model(inputs, **args)
            for i in range(3):
                single = model({name: value[i : i + 1] for name, value in inputs.items()}, **args)
                for name in ("audio", "image", "label"):
                    assert max_abs_diff(batched[name][i : i + 1], single[name]) <= 1e-5, (args, name)


def test_subsampled_points_index_the_full_output():
    """Flat point indices address the full output in row-major order (pixels over T×H×W, audio patches),
    the layout a training loss gathers its targets in; a modality left out is decoded whole."""
    model = _small_model()
    inputs = _inputs(2)
    pixels, patches = torch.randperm(2 * 16 * 16)[:20], torch.randperm(8)[:3]
    with torch.no_grad():
        full = model(inputs)
        sub = model(inputs, subsampled_points={"image": pixels, "audio": patches})
        audio_only = model(inputs, subsampled_points={"audio": patches})
    assert max_abs_diff(sub["image"], full["image"].permute(0, 1, 3, 4, 2).flatten(1, 3)[:, pixels]) <= 1e-5
    assert max_abs_diff(sub["audio"], full["audio"].unflatten(1, (8, 16))[:, patches].flatten(1)) <= 1e-5
    assert max_abs_diff(audio_only["image"], full["image"]) <= 1e-5


def test_chunked_reconstruction_equals_one_shot():
    model = _small_model()
    inputs = _inputs(2)
    with torch.no_grad():
        expected = model(inputs)
    for chunk_size in (100, 10_000):  # across the audio/image border (8 patches + 512 pixels), all at once
        got = reconstruct(model, inputs, chunk_size=chunk_size)
        for name in ("audio", "image", "label"):
            assert got[name].shape == expected[name].shape
            assert max_abs_diff(got[name], expected[name]) <= 1e-5, (chunk_size, name)


def test_label_masking():
    """Masking replaces the label's input vector: in eval (p = 1) the label cannot change the output;
    in training (p = 0.5) about half of a batch sees its label."""
    model = _small_model()
    inputs = _inputs(1)
    other = {**inputs, "label": torch.roll(inputs["label"], 1, dims=1)}
    with torch.no_grad():
        assert max_abs_diff(model(inputs)["label"], model(other)["label"]) == 0.0
        model.input_adapter.cfg.eval_mask_probs = {"label": 0.0}
        assert max_abs_diff(model(inputs)["label"], model(other)["label"]) > 1e-3

    adapter = model.input_adapter.train()
    x = adapter(_inputs(64))[0][:, -1]  # the label position
    masked = (x == adapter.mask_tokens["label"]).all(dim=-1)
    assert 16 < masked.sum() < 48


def test_save_load_round_trip(tmp_path):
    model = _small_model()
    model.save_pretrained(tmp_path)
    loaded = tp.load(tmp_path).eval()
    assert loaded.config == model.config
    inputs = _inputs(2)
    with torch.no_grad():
        expected, got = model(inputs), loaded(inputs)
    assert all(torch.equal(got[name], expected[name]) for name in expected)


def test_preset_widths_and_compression():
    """The released widths: inputs padded to 704 channels, queries to 1026; 52,097 input positions."""
    model = tp.build("multimodal-ae")
    assert model.input_adapter.num_channels == 704
    assert model.output_adapter.query_channels == 1026
    assert {name: a.num_channels for name, a in model.input_adapter.modalities.items()} == {
        "audio": 401,
        "image": 243,
        "label": 700,
    }
    assert tuple(model.encoder.latents.shape) == (784, 512)
    assert tuple(tp.build("multimodal-ae", **{**SMALL_PRESET, "num_latents": 196}).encoder.latents.shape) == (196, 64)


def test_cross_attention_widths_let_more_heads_divide_them():
    """The input width (here 16 + 193 + 4 = 213 channels) is odd: 4 cross-attention heads need qk_channels."""
    with pytest.raises(ValueError, match="multiple of num_heads=4"):
        tp.build("multimodal-ae", **SMALL_PRESET, num_cross_heads=4)
    model = tp.build("multimodal-ae", **SMALL_PRESET, num_cross_heads=4, qk_channels=64).eval()
    attention = model.encoder.cross_attends[0].attn
    assert attention.num_heads == 4
    with torch.no_grad():
        out = model(_inputs(2))
    assert out["audio"].shape == (2, 128) and out["image"].shape == (2, 2, 3, 16, 16)


def test_samples_per_patch_sets_the_audio_positions_and_queries():
    model = tp.build("multimodal-ae", **SMALL_PRESET, samples_per_patch=32).eval()
    assert model.input_adapter.modalities["audio"].num_channels == 32 + 2 * 192 + 1
    with torch.no_grad():
        full = model(_inputs(2))
        part = model(_inputs(2), subsampled_points={"audio": torch.tensor([3, 1])})
    assert full["audio"].shape == (2, 128) and part["audio"].shape == (2, 64)


def test_video_patch_sets_the_video_positions_not_the_pixel_queries():
    released = tp.build("multimodal-ae", **SMALL_PRESET)
    model = tp.build("multimodal-ae", **SMALL_PRESET, video_patch=[2, 8, 4]).eval()
    video = model.input_adapter.modalities["image"]
    assert video.cfg.patch_size == (2, 8, 4) and video.cfg.max_resolution == (1, 2, 4)
    assert video.num_channels == 2 * 8 * 4 * 3 + 3 * (2 * 32 + 1)
    encoded = model.input_adapter(_inputs(2))
    assert encoded.x.shape[1] == 8 + 128 // 16 + 1  # video, audio and label positions
    # the pixel queries keep the Fourier resolution of the released 1×4×4 grid
    assert model.config.output_adapter == released.config.output_adapter
    with torch.no_grad():
        out = model(_inputs(2))
    assert out["image"].shape == (2, 2, 3, 16, 16) and out["audio"].shape == (2, 128)
    with pytest.raises(ValueError, match=r"num_frames, image_size: expected multiples of the 1×3×4 video patch"):
        tp.build("multimodal-ae", **SMALL_PRESET, video_patch=(1, 3, 4))
    with pytest.raises(ValueError, match=r"video_patch: expected 3 values, got 2"):
        tp.build("multimodal-ae", **SMALL_PRESET, video_patch=(4, 4))


def test_unimodal_autoencoders():
    audio = tp.PerceiverIO(
        tp.PerceiverConfig(
            input_adapter=AudioInputConfig(max_resolution=64),
            output_adapter=AudioOutputConfig(max_resolution=64),
            encoder=tp.EncoderConfig(num_latents=8, latent_dim=32, num_self_attends_per_block=1, num_cross_heads=1),
        )
    )
    video = tp.PerceiverIO(
        tp.PerceiverConfig(
            input_adapter=VideoInputConfig(patch_size=(2, 4, 4), num_bands=4, max_resolution=(2, 2, 2)),
            output_adapter=VideoOutputConfig(num_bands=4, max_resolution=(2, 2, 2)),
            encoder=tp.EncoderConfig(num_latents=8, latent_dim=32, num_self_attends_per_block=1, num_cross_heads=1),
        )
    )
    with torch.no_grad():
        assert audio(torch.randn(2, 64)).shape == (2, 64)
        assert audio(torch.randn(2, 64), subsampled_points=torch.tensor([3])).shape == (2, 16)
        assert video(torch.randn(2, 4, 3, 8, 8)).shape == (2, 4, 3, 8, 8)
        assert video(torch.randn(2, 4, 3, 8, 8), subsampled_points=torch.tensor([1, 2])).shape == (2, 2, 3)


def _replace(name: str, value) -> dict:
    return {**_inputs(2), name: value}


@pytest.mark.parametrize(
    ("inputs", "query_args", "match"),
    [
        (torch.randn(2, 128), {}, r"inputs: expected a dict"),
        (
            {"audio": torch.randn(2, 128), "image": torch.randn(2, 2, 3, 16, 16)},
            {},
            r"inputs: expected a dict with keys \['audio', 'image', 'label'\], got \['audio', 'image'\]",
        ),
        ({**_inputs(2), "text": torch.zeros(2, 3)}, {}, r"got \['audio', 'image', 'label', 'text'\]"),
        (_replace("audio", torch.randn(2, 128, 1)), {}, r"inputs\['audio'\]: expected 2 dims"),
        (_replace("audio", torch.randn(2, 120)), {}, r"inputs\['audio'\]: .*multiple of samples_per_patch=16, got 120"),
        (_replace("audio", torch.randint(3, (2, 128))), {}, r"inputs\['audio'\]: expected a floating"),
        (_replace("image", torch.randn(2, 3, 16, 16)), {}, r"inputs\['image'\]: expected 5 dims"),
        (
            _replace("image", torch.randn(2, 2, 3, 2, 2)),
            {},
            r"inputs\['image'\]: .*patch size \(1, 4, 4\), got \(2, 2, 2\)",
        ),
        (_replace("image", torch.randn(2, 2, 3, 16, 18)), {}, r"inputs\['image'\]: .*got \(2, 16, 18\)"),
        (_replace("image", torch.randn(2, 2, 1, 16, 16)), {}, r"inputs\['image'\]: expected channels = 3"),
        (_replace("label", torch.zeros(2, 700)), {}, r"inputs\['label'\]: expected num_classes = 10"),
        (_replace("label", torch.zeros(3, 10)), {}, r"inputs: expected one batch size .*'label': 3"),
        (
            _inputs(2),
            {"subsampled_points": {"image": torch.tensor([512])}},
            r"subsampled_points\['image'\]: .*\[0, 512\)",
        ),
        (_inputs(2), {"subsampled_points": {"audio": torch.tensor([-1])}}, r"subsampled_points\['audio'\]: .*\[0, 8\)"),
        (_inputs(2), {"subsampled_points": {"audio": torch.tensor([0.5])}}, r"subsampled_points\['audio'\]: .*integer"),
        (
            _inputs(2),
            {"subsampled_points": {"label": None}},
            r"subsampled_points: expected keys among \['audio', 'image'\], got unknown \['label'\]",
        ),
        (_inputs(2), {"subsampled_points": torch.arange(3)}, r"subsampled_points: expected a dict"),
        (_inputs(2), {"points": torch.arange(3)}, r"query arguments: expected only subsampled_points"),
    ],
)
def test_bad_input(inputs, query_args, match):
    model = _small_model()
    with pytest.raises(ValueError, match=match):
        model(inputs, **query_args)


def test_bad_attention_mask_and_config():
    model = _small_model()
    with pytest.raises(ValueError, match=r"attention_mask: expected shape \(2, 41\)"):
        model(_inputs(2), attention_mask=torch.ones(2, 136, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"label_mask_prob: expected a probability in \[0, 1\], got 1.5"):
        tp.build("multimodal-ae", label_mask_prob=1.5)
    with pytest.raises(ValueError, match=r"multiples of the 1×4×4 video patch, got 16 frames of 224×222"):
        tp.build("multimodal-ae", image_size=(224, 222))
