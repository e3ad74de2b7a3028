"""The family layout: registries fill themselves, a new family is one folder, adapters declare what they need,
every model makes its own example inputs, encode/decode split the forward pass."""

import sys
import textwrap

import pytest
import torch

import torchperceiver as tp
import torchperceiver.models
from torchperceiver.adapters import (
    AudioInputConfig,
    AudioOutputConfig,
    ClassificationOutputConfig,
    ImageInputConfig,
    LabelInputConfig,
    MaskedLMOutputConfig,
    MultimodalInputConfig,
    MultimodalOutputConfig,
)
from torchperceiver.convert.hf import HF_CONVERTERS
from torchperceiver.presets import PRESETS
from torchperceiver.training import recipe
from torchperceiver.training.task import TASKS

SMALL = {
    "language-mlm": dict(num_latents=4, latent_dim=16, num_layers=1, qk_channels=8, embed_dim=8, max_seq_len=12),
    "text-classifier": dict(num_latents=4, latent_dim=16, num_layers=1, qk_channels=8, embed_dim=8, max_seq_len=12),
    "vision-learned": dict(num_latents=4, latent_dim=16, num_blocks=1, num_layers=1, image_size=(8, 8)),
    "vision-fourier": dict(num_latents=4, latent_dim=16, num_blocks=1, num_layers=1, max_resolution=(8, 8)),
    "vision-conv": dict(num_latents=4, latent_dim=16, num_blocks=1, num_layers=1, max_resolution=(4, 4)),
    "optical-flow": dict(num_latents=4, latent_dim=16, num_layers=1, num_self_heads=2, train_size=(6, 8)),
    "multimodal-ae": dict(num_latents=4, latent_dim=16, num_layers=1, num_frames=2, image_size=(8, 8), num_samples=32),
}


def test_registries_hold_every_family():
    assert set(SMALL) <= set(tp.presets())
    assert "mlm" in TASKS
    assert {"PerceiverForMaskedLM", "PerceiverForOpticalFlow", "PerceiverForMultimodalAutoencoding"} <= set(
        HF_CONVERTERS.names()
    )
    assert {"mlm-tiny", "mlm-paper"} <= set(recipe.available())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_preset_makes_its_own_example_inputs(name):
    model = tp.build(name, **SMALL[name]).eval()
    with torch.no_grad():
        out = model(*model.example_inputs(batch_size=2))
    first = next(iter(out.values())) if isinstance(out, dict) else out
    assert first.shape[0] == 2


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_preset_exposes_the_shared_argument_names(name):
    arguments = tp.preset_arguments(name)
    assert {"num_latents", "latent_dim", "num_layers", "num_self_heads", "num_cross_heads"} <= set(arguments)
    assert arguments["activation_checkpointing"] is False
    model = tp.build(name, **SMALL[name], activation_checkpointing=True)
    assert model.encoder.activation_checkpointing and model.decoder.activation_checkpointing


def test_encode_then_decode_equals_forward():
    model = tp.build("multimodal-ae", **SMALL["multimodal-ae"]).eval()
    (inputs,) = model.example_inputs(2)
    points = {"image": torch.tensor([0, 5, 9]), "audio": torch.tensor([1])}
    with torch.no_grad():
        encoding = model.encode(inputs)
        decoded = model.decode(encoding, subsampled_points=points)
        direct = model(inputs, subsampled_points=points)
    for key in direct:
        torch.testing.assert_close(decoded[key], direct[key], rtol=0, atol=0)


def test_an_output_that_needs_another_input_fails_at_build_time():
    config = tp.PerceiverConfig(
        input_adapter=ImageInputConfig(max_resolution=(4, 4)),
        output_adapter=MaskedLMOutputConfig(vocab_size=262, max_seq_len=8, embed_dim=8),
        encoder=tp.EncoderConfig(num_latents=4, latent_dim=16, num_self_attends_per_block=1, num_cross_heads=1),
    )
    with pytest.raises(ValueError, match=r"'masked_lm' needs a TextContext .* input adapter 'image' provides"):
        tp.PerceiverIO(config)


def test_multimodal_adapters_take_any_named_modalities(tmp_path):
    """Two modalities of our choosing (no video): nested configs save, load and decode by name."""
    config = tp.PerceiverConfig(
        input_adapter=MultimodalInputConfig(
            modalities={"speech": AudioInputConfig(num_bands=4, max_resolution=64), "tag": LabelInputConfig(5)},
            mask_probs={"tag": 0.5},
        ),
        output_adapter=MultimodalOutputConfig(
            modalities={
                "speech": AudioOutputConfig(num_bands=4, max_resolution=64, head_dim=8),
                "tag": ClassificationOutputConfig(num_classes=5, query_dim=6, head_dim=8),
            },
            output_dim=8,
        ),
        encoder=tp.EncoderConfig(num_latents=4, latent_dim=16, num_self_attends_per_block=1, num_cross_heads=1),
    )
    model = tp.PerceiverIO(config).eval()
    model.save_pretrained(tmp_path)
    loaded = tp.load(tmp_path).eval()
    assert loaded.config == config
    (inputs,) = model.example_inputs(3)
    with torch.no_grad():
        out = loaded(inputs, subsampled_points={"speech": torch.tensor([0, 2])})
        whole = tp.reconstruct(loaded, inputs, chunk_size=3)
    assert out["speech"].shape == (3, 2 * 16) and out["tag"].shape == (3, 5)
    assert whole["speech"].shape == (3, 64) and whole["tag"].shape == (3, 5)
    with pytest.raises(ValueError, match=r"modalities: expected keys among \['speech', 'tag'\], got unknown"):
        MultimodalOutputConfig(modalities={"video": AudioOutputConfig()}).check_input(config.input_adapter)


def test_a_new_family_is_one_folder(tmp_path, monkeypatch):
    """A package dropped under ``torchperceiver.models`` brings its preset and recipe with no other edit."""
    family = tmp_path / "toyfamily"
    (family / "recipes").mkdir(parents=True)
    (family / "__init__.py").write_text(
        textwrap.dedent(
            """
            from torchperceiver.presets import build, register_preset

            @register_preset("toy-mlm")
            def toy_mlm(*, num_latents: int = 4):
                return build("language-mlm", num_latents=num_latents, latent_dim=16, num_layers=1, qk_channels=8,
                             embed_dim=8, max_seq_len=12)
            """
        )
    )
    (family / "recipes" / "toy-recipe.yaml").write_text("# a toy\ntask: mlm\nmodel:\n  preset: toy-mlm\n")
    monkeypatch.setattr(torchperceiver.models, "__path__", [*torchperceiver.models.__path__, str(tmp_path)])
    try:
        assert "toy-mlm" in tp.presets()
        assert tp.build("toy-mlm").encoder.latents.shape == (4, 16)
        assert recipe.available()["toy-recipe"] == "a toy"
    finally:  # leave the registries as other tests expect them
        PRESETS._items.pop("toy-mlm", None)
        sys.modules.pop("torchperceiver.models.toyfamily", None)
