"""``train.compile: true``: the model is compiled in place, compiled and eager training agree, and a compiled
run's checkpoint has the eager model's keys (no ``_orig_mod.``), so it loads into any model."""

import json

import pytest
import torch

from mlm_utils import TINY, final_weights
from torchperceiver.cli import main
from torchperceiver.core.io import load_model
from torchperceiver.training import Trainer, recipe
from torchperceiver.training.compile import compile_model

# Every position decoded and full evaluation batches: one static shape for training, one for evaluation,
# so the (slow, C++) compilation happens twice.
SHORT = [
    *TINY,
    "train.steps=3",
    "train.eval_every=3",
    "train.checkpoint_every=3",
    "train.log_every=1",
    "data.decode_masked_only=false",
    # LAMB at lr 1e-2 moves every weight by a fixed share of its norm from the first step: updates large
    # enough for the weight tolerance below to mean something.
    "optim.name=lamb",
    "optim.lr=1e-2",
    "optim.schedule=constant_cosine",
]
# Inductor reorders float sums, so compiled and eager differ by rounding: per-step losses are held to 1e-4
# relative, the weights after three LAMB steps (lr 1e-2) to 1e-3 absolute, a tenth of one step's update.
LOSS_RTOL, WEIGHT_ATOL = 1e-4, 1e-3


def test_compile_model_keeps_the_module_and_its_keys():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    keys = list(model.state_dict())
    assert compile_model(model) is model
    assert list(model.state_dict()) == keys


def test_trainer_compiles_the_model_when_asked(tmp_path):
    rec = recipe.load("mlm-tiny", [*SHORT, "train.compile=true"])
    assert rec.train.compile
    trainer = Trainer(rec.build_task(), rec.optim, rec.train, tmp_path / "run")
    assert trainer.model._compiled_call_impl is not None  # nn.Module.compile's in-place wrapper
    assert not any("_orig_mod" in key for key in trainer.model.state_dict())


def _losses(run) -> list[float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in rows if "train/loss" in r]


@pytest.mark.slow  # inductor compiles C++ for the CPU: 5 minutes on the shared 2-core machine
def test_compiled_training_agrees_with_eager_and_its_checkpoint_loads_anywhere(tmp_path):
    runs = {}
    for name, extra in (("eager", []), ("compiled", ["train.compile=true"])):
        runs[name] = tmp_path / name
        assert main(["train", "--out", str(runs[name]), "--set", *SHORT, "train.threads=1", *extra]) == 0
    eager, compiled = _losses(runs["eager"]), _losses(runs["compiled"])
    assert len(eager) == 3
    torch.testing.assert_close(compiled, eager, rtol=LOSS_RTOL, atol=0)
    weights, weights_eager = final_weights(runs["compiled"]), final_weights(runs["eager"])
    assert weights.keys() == weights_eager.keys()
    assert not any("_orig_mod" in key for key in weights)
    for key, value in weights.items():
        torch.testing.assert_close(value, weights_eager[key], rtol=0, atol=WEIGHT_ATOL, msg=key)
    model = load_model(runs["compiled"], torch.device("cpu"))  # a plain eager model
    ids = torch.randint(6, 262, (1, 16))
    assert model(ids).shape == (1, 16, 262)
