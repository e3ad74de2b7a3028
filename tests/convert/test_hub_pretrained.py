"""``from_pretrained`` reads ``save_pretrained`` directories of all seven HF classes without ``transformers``;
outputs and configs equal ``from_transformers`` on the same model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import torchperceiver as tp
from hf_utils import randomize
from torchperceiver.convert.hub import from_pretrained

transformers = pytest.importorskip("transformers")
TOL = 1e-5

_SMALL = dict(
    num_latents=4,
    d_latents=16,
    num_blocks=1,
    num_self_attends_per_block=2,
    num_self_attention_heads=2,
    num_cross_attention_heads=1,
)


def _text(cls: type) -> tuple[torch.nn.Module, tuple]:
    config = transformers.PerceiverConfig(
        num_latents=4,
        d_latents=32,
        d_model=16,
        num_self_attends_per_block=2,
        qk_channels=256,
        v_channels=32,
        max_position_embeddings=12,
        num_labels=3,
    )
    ids = torch.randint(6, 262, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 8:] = False
    return cls(config), (ids, mask)


def _vision(cls: type, d_model: int, **extra) -> tuple[torch.nn.Module, tuple]:
    config = transformers.PerceiverConfig(d_model=d_model, num_labels=5, **_SMALL, **extra)
    return cls(config), (torch.randn(2, 3, 8, 8),)


def _flow() -> tuple[torch.nn.Module, tuple]:
    config = transformers.PerceiverConfig(d_model=64 + 258, train_size=[6, 8], **_SMALL)
    return transformers.PerceiverForOpticalFlow(config), (torch.rand(1, 2, 3, 6, 8) * 2 - 1,)


def _multimodal() -> tuple[torch.nn.Module, tuple]:
    config = transformers.PerceiverConfig(
        d_model=704,
        num_frames=2,
        image_size=2,
        audio_samples_per_frame=32,
        output_shape=[1, 2, 8, 8],
        num_labels=5,
        **_SMALL,
    )
    return transformers.PerceiverForMultimodalAutoencoding(config), ()


CASES = {
    "PerceiverForMaskedLM": lambda: _text(transformers.PerceiverForMaskedLM),
    "PerceiverForSequenceClassification": lambda: _text(transformers.PerceiverForSequenceClassification),
    "PerceiverForImageClassificationLearned": lambda: _vision(
        transformers.PerceiverForImageClassificationLearned, 512, image_size=8
    ),
    "PerceiverForImageClassificationFourier": lambda: _vision(transformers.PerceiverForImageClassificationFourier, 261),
    "PerceiverForImageClassificationConvProcessing": lambda: _vision(
        transformers.PerceiverForImageClassificationConvProcessing, 322
    ),
    "PerceiverForOpticalFlow": _flow,
    "PerceiverForMultimodalAutoencoding": _multimodal,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_save_pretrained_directory_equals_from_transformers(name: str, tmp_path: Path) -> None:
    hf, inputs = CASES[name]()
    randomize(hf)
    if name == "PerceiverForImageClassificationConvProcessing":
        bn = hf.perceiver.input_preprocessor.convnet.batchnorm
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    hf.save_pretrained(tmp_path)
    expected = tp.from_transformers(hf)
    ours = from_pretrained(tmp_path)
    assert ours.config.to_dict() == expected.config.to_dict()
    assert not ours.training
    inputs = inputs or expected.example_inputs(1)
    torch.manual_seed(0)
    a = ours(*inputs)
    torch.manual_seed(0)
    b = expected(*inputs)
    for x, y in zip(*(([v[k] for k in sorted(v)] if isinstance(v, dict) else [v]) for v in (a, b)), strict=True):
        assert x.shape == y.shape and (x - y).abs().max().item() < TOL


def test_pytorch_model_bin_is_read(tmp_path: Path) -> None:
    hf, inputs = CASES["PerceiverForSequenceClassification"]()
    randomize(hf)
    hf.config.architectures = [type(hf).__name__]
    hf.config.save_pretrained(tmp_path)
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    torch.testing.assert_close(from_pretrained(tmp_path)(*inputs), tp.from_transformers(hf)(*inputs))


def test_no_transformers_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hf, inputs = CASES["PerceiverForMaskedLM"]()
    hf.save_pretrained(tmp_path)
    monkeypatch.setitem(sys.modules, "transformers", None)  # any import of transformers now fails
    from_pretrained(tmp_path)(*inputs)


def test_a_missing_local_directory_is_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="expected a directory or an 'owner/name' repo id"):
        from_pretrained(tmp_path / "missing")


def test_other_architecture_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    with pytest.raises(ValueError, match=r"expected a Perceiver repo .* model_type='bert'"):
        from_pretrained(tmp_path)


def test_missing_weights_and_unmapped_tensors(tmp_path: Path) -> None:
    hf, _ = CASES["PerceiverForSequenceClassification"]()
    hf.config.architectures = [type(hf).__name__]
    hf.config.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"model\.safetensors"):
        from_pretrained(tmp_path)
    state = {**hf.state_dict(), "perceiver.extra.weight": torch.zeros(1)}
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"not mapped: \['perceiver.extra.weight'\]"):
        from_pretrained(tmp_path)


def test_our_own_directories_load(tmp_path: Path) -> None:
    model = tp.build("language-mlm", num_latents=4, latent_dim=16, num_layers=1, embed_dim=16, max_seq_len=8)
    model.save_pretrained(tmp_path)
    (ids,) = model.example_inputs(1)
    torch.testing.assert_close(from_pretrained(tmp_path)(ids), model.eval()(ids))
