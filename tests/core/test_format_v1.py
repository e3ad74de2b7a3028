"""Models saved before one folder per family (``format_version`` 1) still load and give the same outputs."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import torchperceiver as tp

FIXTURES = Path(__file__).parent.parent / "fixtures" / "format_v1"


def _unpack(tensors: dict[str, torch.Tensor], prefix: str):
    if prefix in tensors:
        return tensors[prefix]
    return {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_format_1_models_load_with_the_same_outputs(name, tmp_path):
    model = tp.load(FIXTURES / name).eval()
    tensors = load_file(str(FIXTURES / name / "io.safetensors"))
    with torch.no_grad():
        got = model(_unpack(tensors, "input"))
    want = _unpack(tensors, "output")
    if isinstance(want, dict):
        assert sorted(got) == sorted(want)
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-6)
    else:
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    # Saved again, it is written in today's format and still loads to the same model.
    model.save_pretrained(tmp_path)
    assert '"format_version": 2' in (tmp_path / "config.json").read_text()
    assert tp.load(tmp_path).config == model.config


def test_all_families_have_a_format_1_fixture():
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == {
        "language-mlm", "text-classifier", "vision-learned", "vision-fourier", "vision-conv", "optical-flow",
        "multimodal-ae",
    }  # fmt: skip
