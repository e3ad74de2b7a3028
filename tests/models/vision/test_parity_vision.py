"""Image classifiers match HF transformers on the same weights (fp32, max abs diff ≤ 1e-4), BatchNorm stats included."""

import dataclasses

import pytest
import torch

import torchperceiver as tp
from hf_utils import TOLERANCE, max_abs_diff, randomize, transformers

hf_perceiver = pytest.importorskip("transformers.models.perceiver.modeling_perceiver")

SMALL = dict(
    num_latents=16,
    d_latents=64,
    num_blocks=2,
    num_self_attends_per_block=2,
    num_self_attention_heads=4,
    num_cross_attention_heads=1,
    num_labels=7,
    image_size=8,
)
CLASSES = {
    "learned": ("PerceiverForImageClassificationLearned", 8),
    "fourier": ("PerceiverForImageClassificationFourier", 12),
    "conv": ("PerceiverForImageClassificationConvProcessing", 32),
}


def randomize_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Running statistics far from 0/1, so eval-mode BatchNorm that ignored them would fail the tolerance."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.num_batches_tracked.fill_(7)
    return model


def hf_classifier(kind: str, **overrides) -> torch.nn.Module:
    cls = getattr(transformers, CLASSES[kind][0])
    return randomize_batchnorm(randomize(cls(transformers.PerceiverConfig(**{**SMALL, **overrides}))))


def diff(ours: torch.nn.Module, hf: torch.nn.Module, images: torch.Tensor) -> float:
    with torch.no_grad():
        return max_abs_diff(ours(images), hf(inputs=images).logits)


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_image_classification_small(kind):
    hf = hf_classifier(kind)
    ours = tp.from_transformers(hf)
    size = CLASSES[kind][1]
    assert diff(ours, hf, torch.randn(3, 3, size, size)) <= TOLERANCE


def test_conv_stem_conversion_carries_running_stats():
    hf = hf_classifier("conv")
    ours = tp.from_transformers(hf)
    theirs = hf.perceiver.input_preprocessor.convnet.batchnorm
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(getattr(ours.input_adapter.stem.norms[0], name), getattr(theirs, name))


def with_input(model: tp.PerceiverIO, **changes) -> tp.PerceiverIO:
    """The same weights under a changed input-adapter config."""
    config = dataclasses.replace(model.config, input_adapter=dataclasses.replace(model.config.input_adapter, **changes))
    return rebuilt(config, model)


def with_decoder(model: tp.PerceiverIO, **changes) -> tp.PerceiverIO:
    config = dataclasses.replace(model.config, decoder=dataclasses.replace(model.config.decoder, **changes))
    return rebuilt(config, model)


def rebuilt(config: tp.PerceiverConfig, model: tp.PerceiverIO) -> tp.PerceiverIO:
    other = tp.PerceiverIO(config)
    other.load_state_dict(model.state_dict(), strict=True)
    return other.eval()


def test_official_conv_padding_does_not_reproduce_hf():
    """HF's stem: conv padded 3 on both sides and an unpadded pool (32 → 7×7); the official SAME stem gives 8×8."""
    hf = hf_classifier("conv")
    ours = tp.from_transformers(hf)
    assert ours.config.input_adapter.hf_conv_padding
    official = with_input(ours, hf_conv_padding=False)
    assert official.input_adapter.grid_size(32, 32) == (8, 8) and ours.input_adapter.grid_size(32, 32) == (7, 7)
    assert diff(official, hf, torch.randn(2, 3, 32, 32)) > 100 * TOLERANCE


def _tiny():
    return dict(num_latents=8, latent_dim=32, num_blocks=1, num_layers=1, image_size=(4, 4))


def test_learned_query_residual_follows_hf():
    """HF hard-codes the query residual that the official learned-position colab does not use."""
    hf = hf_classifier("learned")
    ours = tp.from_transformers(hf)
    assert (
        ours.config.decoder.query_residual and not tp.build("vision-learned", **_tiny()).config.decoder.query_residual
    )
    assert diff(with_decoder(ours, query_residual=False), hf, torch.randn(2, 3, 8, 8)) > 100 * TOLERANCE


def custom_hf(prep_kwargs: dict, **config_overrides) -> torch.nn.Module:
    """An HF image classifier whose preprocessor is not one of the three released ones (to test the general mapping)."""
    config = transformers.PerceiverConfig(**{**SMALL, **config_overrides})
    hf = transformers.PerceiverForImageClassificationFourier(config)
    hf.perceiver = hf_perceiver.PerceiverModel(
        config,
        input_preprocessor=hf_perceiver.PerceiverImagePreprocessor(config, **prep_kwargs),
        decoder=hf_perceiver.PerceiverClassificationDecoder(
            config,
            num_channels=config.d_latents,
            trainable_position_encoding_kwargs=dict(num_channels=config.d_latents, index_dims=1),
            use_query_residual=False,
        ),
    )
    return randomize(hf)


@pytest.mark.parametrize(
    "prep_kwargs, size",
    [
        (
            dict(
                prep_type="patches",
                spatial_downsample=4,
                conv_after_patching=True,
                conv_after_patching_in_channels=48,
                out_channels=24,
                fourier_position_encoding_kwargs=dict(num_bands=5, max_resolution=(4, 6), concat_pos=True),
            ),
            (16, 24),
        ),
        (
            dict(
                prep_type="patches",
                spatial_downsample=2,
                fourier_position_encoding_kwargs=dict(num_bands=3, max_resolution=(6, 6), sine_only=True),
            ),
            (12, 12),
        ),
        (
            dict(
                prep_type="conv1x1",
                spatial_downsample=2,
                out_channels=16,
                position_encoding_type="trainable",
                project_pos_dim=12,
                trainable_position_encoding_kwargs=dict(num_channels=16, index_dims=16),
            ),
            (8, 8),
        ),
    ],
)
def test_other_preprocessors(prep_kwargs, size):
    hf = custom_hf(prep_kwargs)
    ours = tp.from_transformers(hf)
    assert diff(ours, hf, torch.randn(2, 3, *size)) <= TOLERANCE


def test_hf_pixels_downsample_is_refused():
    hf = custom_hf(
        dict(
            prep_type="pixels",
            spatial_downsample=2,
            fourier_position_encoding_kwargs=dict(num_bands=2, max_resolution=(4, 4)),
        )
    )
    with pytest.raises(ValueError, match="pixels spatial_downsample: expected 1"):
        tp.from_transformers(hf)


REAL = dict(
    num_latents=512,
    d_latents=1024,
    num_blocks=8,
    num_self_attends_per_block=6,
    num_self_attention_heads=8,
    num_cross_attention_heads=1,
    num_labels=1000,
    image_size=224,
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_real_shapes(kind):
    """deepmind/vision-perceiver-{learned,fourier,conv} shapes, batch 1, 224×224; the preset has the same tensors."""
    hf = hf_classifier(kind, **REAL)
    ours = tp.from_transformers(hf)
    with torch.device("meta"):  # shapes only: no memory, no init time
        preset = tp.build(f"vision-{kind}")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in preset.state_dict().items()}
    assert diff(ours, hf, torch.randn(1, 3, 224, 224)) <= TOLERANCE
