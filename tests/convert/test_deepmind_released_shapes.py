"""Synthetic trees at the released shapes (from the colabs' configs) convert into the presets' defaults:
every official name and shape of the six checkpoints has its place in the released architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchperceiver as tp
from official_utils import TreeBuilder

pytestmark = pytest.mark.slow


def _mlm(t: TreeBuilder) -> None:
    t.array("embed", "embeddings", (262, 768))
    t.position("trainable_position_encoding", 2048, 768)
    t.encoder("perceiver_encoder", 768, 256, 1280, 26, cross_qk=256, cross_v=1280, self_qk=256, self_v=1280)
    t.position("basic_decoder/~/trainable_position_encoding", 2048, 768)
    t.decoder("basic_decoder", 768, 1280, qk=256, v=768)
    t.array("embedding_decoder", "bias", (262,))


def _imagenet(t: TreeBuilder, input_dim: int) -> None:
    t.encoder("perceiver_encoder", input_dim, 512, 1024, 6)
    t.position("classification_decoder/~/basic_decoder/~/trainable_position_encoding", 1, 1024)
    t.decoder("classification_decoder/~/basic_decoder", 1024, 1024)
    t.linear("classification_decoder/~/basic_decoder/output", 1024, 1000)


def _learned(t: TreeBuilder) -> None:
    t.array("image_preprocessor/~/conv2_d", "w", (1, 1, 3, 256))
    t.array("image_preprocessor/~/conv2_d", "b", (256,))
    t.position("image_preprocessor/~_build_network_inputs/trainable_position_encoding", 224 * 224, 256)
    t.linear("image_preprocessor/~_build_network_inputs/position_encoding_projector/linear", 256, 256)
    _imagenet(t, 512)


def _conv(t: TreeBuilder) -> None:
    t.array("image_preprocessor/~/conv2_d_downsample/~/conv", "w", (7, 7, 3, 64))
    scope = "image_preprocessor/~/conv2_d_downsample/~/batchnorm"
    t.tree[scope] = {"scale": np.ones((1, 1, 1, 64), np.float32), "offset": np.zeros((1, 1, 1, 64), np.float32)}
    for ema in ("mean_ema", "var_ema"):
        hidden = np.full((1, 1, 1, 64), 0.5, np.float32)
        t.tree[f"{scope}/~/{ema}"] = {"hidden": hidden, "counter": np.int32(1000), "average": hidden / (1 - 0.9**1000)}
    _imagenet(t, 322)


def _flow(t: TreeBuilder) -> None:
    t.linear("image_preprocessor/patches_linear", 54, 64)
    t.encoder("perceiver_encoder", 322, 2048, 512, 24)
    t.decoder("flow_decoder/~/basic_decoder", 322, 512)
    t.linear("flow_decoder/~/basic_decoder/output", 322, 2)


def _multimodal(t: TreeBuilder) -> None:
    for name, dim in (("audio", 401), ("image", 243), ("label", 700)):
        t.position(f"multimodal_preprocessor/{name}_padding", 1, 704 - dim)
        t.position(f"multimodal_preprocessor/{name}_mask_token", 1, 704)
    t.encoder("encoder", 704, 784, 512, 8)
    for name, dim in (("audio", 385), ("image", 195), ("label", 1024)):
        t.position(f"multimodal_decoder/~decoder_query/{name}_padding", 1, 1026 - dim)
    t.position("classification_decoder/~/basic_decoder/~/trainable_position_encoding", 1, 1024)
    t.decoder("multimodal_decoder/~/basic_decoder", 1026, 512)
    t.linear("multimodal_decoder/~/basic_decoder/output", 1026, 512)
    for post, n in (
        ("audio_postprocessor", 16),
        ("projection_postprocessor", 3),
        ("classification_postprocessor", 700),
    ):
        t.linear(f"{post}/linear", 512, n)


CASES = {
    "language-mlm": _mlm,
    "vision-learned": _learned,
    "vision-fourier": lambda t: _imagenet(t, 261),
    "vision-conv": _conv,
    "optical-flow": _flow,
    "multimodal-ae": _multimodal,
}


@pytest.mark.parametrize("preset", sorted(CASES))
def test_released_checkpoint_shapes(preset: str) -> None:
    t = TreeBuilder()
    CASES[preset](t)
    model = tp.from_deepmind(t.tree, preset)
    assert sum(a.size for p in t.tree.values() for k, a in p.items() if k not in ("counter", "hidden")) == sum(
        v.numel() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")
    )
    key = next(
        iter(
            t.tree[
                "perceiver_encoder/~/trainable_position_encoding"
                if preset != "multimodal-ae"
                else "encoder/~/trainable_position_encoding"
            ].values()
        )
    )
    torch.testing.assert_close(model.encoder.latents, torch.from_numpy(key))
