"""``torchperceiver convert deepmind`` writes a loadable model directory; a bad file is a one-line error."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

import torchperceiver as tp
from official_utils import TreeBuilder
from torchperceiver.cli import main


def _flow_tree() -> dict:
    t = TreeBuilder()
    input_dim = 8 + 2 * (2 * 64 + 1)
    t.linear("image_preprocessor/patches_linear", 54, 8)
    t.encoder("perceiver_encoder", input_dim, 4, 16, 1)
    t.decoder("flow_decoder/~/basic_decoder", input_dim, 16)
    t.linear("flow_decoder/~/basic_decoder/output", input_dim, 2)
    return t.tree


def test_convert_deepmind_writes_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flow.pystate"
    path.write_bytes(pickle.dumps(_flow_tree()))
    out = tmp_path / "model"
    sizes = ["train_size=(6, 8)", "num_latents=4", "latent_dim=16", "num_layers=1", "patch_dim=8"]
    assert main(["convert", "deepmind", str(path), "--preset", "optical-flow", "--out", str(out), "--set", *sizes]) == 0
    assert "wrote" in capsys.readouterr().out
    model = tp.from_deepmind(
        path, "optical-flow", train_size=(6, 8), num_latents=4, latent_dim=16, num_layers=1, patch_dim=8
    )
    frames = torch.rand(1, 2, 3, 6, 8)
    torch.testing.assert_close(tp.load(out)(frames), model(frames))
    wrong = [
        "convert",
        "deepmind",
        str(path),
        "--preset",
        "optical-flow",
        "--out",
        str(tmp_path / "x"),
        "--set",
        "num_latents=5",
        *sizes[2:],
    ]
    assert main(wrong) == 2 and "expected shape (5, 16) for encoder.latents" in capsys.readouterr().err


def test_convert_deepmind_refuses_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"embed": {"embeddings": Evil()}}))
    args = ["convert", "deepmind", str(path), "--preset", "language-mlm", "--out", str(tmp_path / "out")]
    assert main(args) == 2
    assert "refusing to load global" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
