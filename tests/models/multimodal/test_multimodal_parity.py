"""Multimodal autoencoder: parity with HF (needs transformers)."""

import pytest
import torch
import torch.nn.functional as F

import torchperceiver as tp
from hf_utils import TOLERANCE, max_abs_diff, randomize, transformers

# 2 frames of 16×16 pixels (2×4×4 patches), 128 audio samples (8 patches), 10 classes.
HF_SMALL = dict(
    num_latents=16,
    d_latents=64,
    num_self_attends_per_block=2,
    num_self_attention_heads=4,
    num_cross_attention_heads=1,
    num_labels=10,
    num_frames=2,
    audio_samples_per_frame=64,
    samples_per_patch=16,
    image_size=4,
    output_shape=[1, 2, 16, 16],
    output_num_channels=48,
    _label_trainable_num_channels=32,
)
SMALL_PRESET = dict(
    num_latents=16, latent_dim=64, num_layers=2, num_frames=2, image_size=(16, 16), num_samples=128, num_classes=10
)


def _inputs(batch: int, frames: int = 2, size: int = 16, samples: int = 128, classes: int = 10) -> dict:
    return {
        "audio": torch.randn(batch, samples),
        "image": torch.randn(batch, frames, 3, size, size),
        "label": F.one_hot(torch.randint(classes, (batch,)), classes).float(),
    }


def _hf_run(hf, inputs: dict, points: dict) -> dict:
    hf_inputs = {**inputs, "audio": inputs["audio"][..., None]}  # HF reads audio as [B, S, 1]
    with torch.no_grad():
        return hf(inputs=hf_inputs, subsampled_output_points={**points, "label": None}).logits


def _small_model() -> tp.PerceiverIO:
    return tp.build("multimodal-ae", **SMALL_PRESET).eval()


@pytest.mark.parametrize(
    ("overrides", "mask_probs"),
    [
        (dict(), None),  # HF's own masking: the label always replaced by its mask token
        (dict(), {"audio": 1.0, "image": 0.0, "label": 0.0}),  # the label read; audio masked
        (dict(samples_per_patch=8, hidden_act="gelu_new", cross_attention_shape_for_attention="q"), None),
    ],
)
def test_parity_small(overrides, mask_probs):
    hf = transformers.PerceiverForMultimodalAutoencoding(transformers.PerceiverConfig(**{**HF_SMALL, **overrides}))
    if mask_probs is not None:
        hf.perceiver.input_preprocessor.mask_probs = mask_probs
    hf = randomize(hf)
    ours = tp.from_transformers(hf)
    inputs = _inputs(1)
    num_patches = 128 // hf.config.samples_per_patch

    # HF cannot decode without subsampled points (it takes the query grid from the padded input's
    # channels); asking for every point in order is its full decode.
    expected = _hf_run(hf, inputs, {"image": torch.arange(2 * 16 * 16), "audio": torch.arange(num_patches)})
    with torch.no_grad():
        got = ours(inputs)
    assert got["image"].shape == (1, 2, 3, 16, 16) and got["audio"].shape == (1, 128)
    assert max_abs_diff(got["image"].permute(0, 1, 3, 4, 2).flatten(1, 3), expected["image"]) <= TOLERANCE
    assert max_abs_diff(got["audio"], expected["audio"]) <= TOLERANCE
    assert max_abs_diff(got["label"], expected["label"]) <= TOLERANCE

    points = {"image": torch.randperm(2 * 16 * 16)[:37], "audio": torch.tensor([5, 0, 3])}
    expected = _hf_run(hf, inputs, points)
    with torch.no_grad():
        got = ours(inputs, subsampled_points=points)
    assert got["image"].shape == (1, 37, 3) and got["audio"].shape == (1, 3 * hf.config.samples_per_patch)
    for name in ("audio", "image", "label"):
        assert max_abs_diff(got[name], expected[name]) <= TOLERANCE, name


@pytest.mark.slow
def test_parity_real_shapes_subsampled():
    """deepmind/multimodal-perceiver's shapes: 16×224×224 video, 30,720 samples, 784 × 512 latents; the
    paper's training decode of 512 pixels + 512 audio patches + the label."""
    config = transformers.PerceiverConfig(
        num_latents=784,
        d_latents=512,
        d_model=704,
        num_blocks=1,
        num_self_attends_per_block=8,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        num_labels=700,
    )
    hf = randomize(transformers.PerceiverForMultimodalAutoencoding(config))
    ours = tp.from_transformers(hf)
    preset = tp.build("multimodal-ae", activation="gelu")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in preset.state_dict().items()}
    ours_inputs, preset_inputs = ours.config.input_adapter.modalities, preset.config.input_adapter.modalities
    assert ours_inputs == preset_inputs
    assert ours.config.output_adapter == preset.config.output_adapter
    inputs = _inputs(1, frames=16, size=224, samples=30720, classes=700)
    points = {"image": torch.randperm(16 * 224 * 224)[:512], "audio": torch.randperm(1920)[:512]}
    expected = _hf_run(hf, inputs, points)
    with torch.no_grad():
        got = ours(inputs, subsampled_points=points)
    for name in ("audio", "image", "label"):
        assert max_abs_diff(got[name], expected[name]) <= TOLERANCE, name
