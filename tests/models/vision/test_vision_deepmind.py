"""The official ImageNet checkpoints (learned, Fourier, conv) convert from synthetic trees with the official
names; the same trees through HF's renaming rules and ``from_transformers`` give identical weights and outputs
within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchperceiver as tp
from official_utils import TreeBuilder, assert_close, assert_same_weights, hf_config, load_into_hf

transformers = pytest.importorskip("transformers")


def _vision_tree(t: TreeBuilder, input_dim: int, num_classes: int = 5) -> None:
    t.encoder("perceiver_encoder", input_dim, 4, 16, 2)
    t.position("classification_decoder/~/basic_decoder/~/trainable_position_encoding", 1, 16)
    t.decoder("classification_decoder/~/basic_decoder", 16, 16)
    t.linear("classification_decoder/~/basic_decoder/output", 16, num_classes)


_VISION = dict(num_classes=5, num_latents=4, latent_dim=16, num_blocks=2, num_layers=2, num_self_heads=2)
_HF_VISION = dict(
    num_latents=4,
    d_latents=16,
    num_blocks=2,
    num_self_attends_per_block=2,
    num_self_attention_heads=2,
    num_cross_attention_heads=1,
    num_labels=5,
)


def test_vision_learned() -> None:
    t = TreeBuilder()
    t.array("image_preprocessor/~/conv2_d", "w", (1, 1, 3, 256), 0.5)
    t.array("image_preprocessor/~/conv2_d", "b", (256,), 0.1)
    t.position("image_preprocessor/~_build_network_inputs/trainable_position_encoding", 64, 256)
    t.linear("image_preprocessor/~_build_network_inputs/position_encoding_projector/linear", 256, 256)
    _vision_tree(t, 512)
    ours = tp.from_deepmind(t.tree, "vision-learned", image_size=(8, 8), **_VISION)
    hf_model = transformers.PerceiverForImageClassificationLearned(
        hf_config(transformers, d_model=512, image_size=8, **_HF_VISION)
    )
    hf = tp.from_transformers(load_into_hf(hf_model, t.tree))
    assert_same_weights(ours, hf)
    # HF hard-codes the decoder's query residual; the official learned model has none.
    assert not ours.config.decoder.query_residual and hf.config.decoder.query_residual
    images = torch.randn(2, 3, 8, 8)
    same = tp.from_deepmind(t.tree, "vision-learned", image_size=(8, 8), decoder_query_residual=True, **_VISION)
    assert_close(same(images), hf(images))


def test_vision_fourier() -> None:
    t = TreeBuilder()
    _vision_tree(t, 3 + 2 * (2 * 64 + 1))
    ours = tp.from_deepmind(t.tree, "vision-fourier", **_VISION)
    hf_model = transformers.PerceiverForImageClassificationFourier(hf_config(transformers, d_model=261, **_HF_VISION))
    hf = tp.from_transformers(load_into_hf(hf_model, t.tree))
    assert_same_weights(ours, hf)
    images = torch.randn(2, 3, 16, 16)
    assert_close(ours(images), hf(images))


def _batch_norm_state(t: TreeBuilder, scope: str, channels: int, counter: int = 5) -> None:
    rng = np.random.default_rng(1)
    t.tree[scope] = {
        "scale": (1 + 0.1 * rng.standard_normal((1, 1, 1, channels))).astype(np.float32),
        "offset": (0.1 * rng.standard_normal((1, 1, 1, channels))).astype(np.float32),
    }
    for ema, low in (("mean_ema", -1.0), ("var_ema", 0.5)):
        hidden = rng.uniform(low, 2.0, (1, 1, 1, channels)).astype(np.float32)
        t.tree[f"{scope}/~/{ema}"] = {
            "hidden": hidden,
            "counter": np.int32(counter),
            "average": (hidden / (1 - 0.9**counter)).astype(np.float32),
        }


def test_vision_conv() -> None:
    t = TreeBuilder()
    t.array("image_preprocessor/~/conv2_d_downsample/~/conv", "w", (7, 7, 3, 64), 0.1)
    _batch_norm_state(t, "image_preprocessor/~/conv2_d_downsample/~/batchnorm", 64)
    _vision_tree(t, 64 + 2 * (2 * 64 + 1))
    ours = tp.from_deepmind(t.tree, "vision-conv", **_VISION)
    hf_model = load_into_hf(
        transformers.PerceiverForImageClassificationConvProcessing(hf_config(transformers, d_model=322, **_HF_VISION)),
        t.tree,
    )
    conv = hf_model.perceiver.input_preprocessor.convnet.conv
    # HF's script np.transposes the HWIO kernel (all axes reversed): its 7×7 kernels come out transposed.
    torch.testing.assert_close(conv.weight, ours.input_adapter.stem.convs[0].weight.transpose(-1, -2))
    with torch.no_grad():
        conv.weight.copy_(conv.weight.transpose(-1, -2).clone())
    hf = tp.from_transformers(hf_model)
    assert_same_weights(ours, hf)
    assert int(ours.input_adapter.stem.norms[0].num_batches_tracked) == 5
    images = torch.randn(2, 3, 16, 16)
    same = tp.from_deepmind(t.tree, "vision-conv", hf_conv_padding=True, **_VISION)  # HF's stem padding
    assert_close(same(images), hf(images))
