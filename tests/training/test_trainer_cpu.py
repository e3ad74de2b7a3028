"""``train.flush_denormal``: a CPU run flushes subnormal floats to zero while it trains, and puts the thread's
previous setting back afterwards (other code in the process, e.g. Hypothesis, relies on IEEE subnormals)."""

import pytest
import torch

from mlm_utils import TINY
from torchperceiver.training import Trainer, recipe
from torchperceiver.training.trainer import flushed_subnormals, flushing_subnormals

SHORT = [*TINY, "train.steps=2", "train.eval_every=2", "train.checkpoint_every=2", "train.log_every=1"]


def test_flushed_subnormals_restores_the_previous_setting():
    torch.set_flush_denormal(False)
    assert not flushing_subnormals()
    with flushed_subnormals():
        assert flushing_subnormals()
        assert (torch.tensor([1e-20]) * torch.tensor([1e-20])).item() == 0.0
    assert not flushing_subnormals()
    assert (torch.tensor([1e-20]) * torch.tensor([1e-20])).item() == pytest.approx(1e-40, rel=1e-3)
    torch.set_flush_denormal(True)
    try:
        with flushed_subnormals():
            pass
        assert flushing_subnormals(), "a setting the caller made stays"
    finally:
        torch.set_flush_denormal(False)


@pytest.mark.parametrize("flush", [True, False])
def test_training_steps_run_with_subnormals_flushed_when_asked(tmp_path, flush):
    torch.set_flush_denormal(False)
    rec = recipe.load("mlm-tiny", [*SHORT, f"train.flush_denormal={str(flush).lower()}"])
    task = rec.build_task()
    loss, seen = task.loss, []

    def probed_loss(model, batch):
        seen.append(flushing_subnormals())
        return loss(model, batch)

    task.loss = probed_loss
    Trainer(task, rec.optim, rec.train, tmp_path / "run").fit()
    assert seen and set(seen) == {flush}
    assert not flushing_subnormals(), "the run leaves the thread as it found it"
