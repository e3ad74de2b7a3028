"""The official video-autoencoding checkpoint converts from a synthetic tree with the official names; the
same tree through HF's renaming rules and ``from_transformers`` gives identical weights and outputs within 1e-5."""

from __future__ import annotations

import pytest
import torch

import torchperceiver as tp
from official_utils import TreeBuilder, assert_close, assert_same_weights, hf_config, load_into_hf

transformers = pytest.importorskip("transformers")


def test_multimodal_autoencoding() -> None:
    frames, size, samples, classes, latent = 2, (8, 8), 64, 5, 16
    audio_dim, image_dim = 16 + (2 * 192 + 1), 48 + 3 * (2 * 32 + 1)
    width = max(audio_dim, image_dim, classes) + 4
    t = TreeBuilder()
    for name, dim in (("audio", audio_dim), ("image", image_dim), ("label", classes)):
        t.position(f"multimodal_preprocessor/{name}_padding", 1, width - dim)
        t.position(f"multimodal_preprocessor/{name}_mask_token", 1, width)
    t.encoder("encoder", width, 4, latent, 2)
    query_width = 1024 + 2
    for name, dim in (("audio", 385), ("image", 195), ("label", 1024)):
        t.position(f"multimodal_decoder/~decoder_query/{name}_padding", 1, query_width - dim)
    t.position("classification_decoder/~/basic_decoder/~/trainable_position_encoding", 1, 1024)
    t.decoder("multimodal_decoder/~/basic_decoder", query_width, latent)
    t.linear("multimodal_decoder/~/basic_decoder/output", query_width, 512)
    for post, n in (
        ("audio_postprocessor", 16),
        ("projection_postprocessor", 3),
        ("classification_postprocessor", classes),
    ):
        t.linear(f"{post}/linear", 512, n)
    ours = tp.from_deepmind(
        t.tree,
        "multimodal-ae",
        num_latents=4,
        latent_dim=latent,
        num_layers=2,
        num_self_heads=2,
        num_frames=frames,
        image_size=size,
        num_samples=samples,
        num_classes=classes,
    )
    config = hf_config(
        transformers,
        num_latents=4,
        d_latents=latent,
        d_model=width,
        num_self_attends_per_block=2,
        num_self_attention_heads=2,
        num_cross_attention_heads=1,
        num_frames=frames,
        image_size=size[0] // 4,
        audio_samples_per_frame=samples // frames,
        samples_per_patch=16,
        output_shape=[1, frames, *size],
        num_labels=classes,
    )
    hf = tp.from_transformers(
        load_into_hf(transformers.PerceiverForMultimodalAutoencoding(config), t.tree, "multimodal")
    )
    assert_same_weights(ours, hf)
    ours.eval()
    inputs = ours.example_inputs(1)
    torch.manual_seed(3)
    a = ours(*inputs)
    torch.manual_seed(3)
    b = hf(*inputs)
    for key in a:
        assert_close(a[key], b[key])
