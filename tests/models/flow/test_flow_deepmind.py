"""The official optical-flow checkpoint converts from a synthetic tree with the official names; the same tree through
HF's renaming rules and ``from_transformers`` gives identical weights and outputs within 1e-5."""

from __future__ import annotations

import pytest
import torch

import torchperceiver as tp
from official_utils import TreeBuilder, assert_close, assert_same_weights, hf_config, load_into_hf

transformers = pytest.importorskip("transformers")


def test_optical_flow() -> None:
    size, patch, latent = (6, 8), 64, 16
    input_dim = patch + 2 * (2 * 64 + 1)
    t = TreeBuilder()
    t.linear("image_preprocessor/patches_linear", 54, patch)
    t.encoder("perceiver_encoder", input_dim, 4, latent, 2)
    t.decoder("flow_decoder/~/basic_decoder", input_dim, latent)
    t.linear("flow_decoder/~/basic_decoder/output", input_dim, 2)
    ours = tp.from_deepmind(
        t.tree, "optical-flow", train_size=size, num_latents=4, latent_dim=latent, num_layers=2, num_self_heads=2
    )
    config = hf_config(
        transformers,
        num_latents=4,
        d_latents=latent,
        d_model=input_dim,
        num_self_attends_per_block=2,
        num_self_attention_heads=2,
        num_cross_attention_heads=1,
        train_size=list(size),
    )
    hf = tp.from_transformers(load_into_hf(transformers.PerceiverForOpticalFlow(config), t.tree))
    assert_same_weights(ours, hf)
    frames = torch.rand(1, 2, 3, *size) * 2 - 1
    assert_close(ours(frames), hf(frames))
