"""Process settings a CPU run takes from its recipe: subnormal floats flushed to zero (``train.flush_denormal``)."""

import pytest
import torch

from mlm_utils import TINY
from torchperceiver.training import Trainer, recipe


def _product_of_tiny_floats() -> float:
    """1e-20 × 1e-20 = 1e-40: a subnormal float32, or 0 where subnormals are flushed."""
    return (torch.tensor([1e-20]) * torch.tensor([1e-20])).item()


@pytest.mark.parametrize("flush", [True, False])
def test_trainer_flushes_subnormals_on_a_cpu_when_asked(tmp_path, flush):
    torch.set_flush_denormal(False)
    try:
        assert _product_of_tiny_floats() == pytest.approx(1e-40, rel=1e-3)
        rec = recipe.load("mlm-tiny", [*TINY, f"train.flush_denormal={str(flush).lower()}"])
        assert rec.train.flush_denormal is flush
        Trainer(rec.build_task(), rec.optim, rec.train, tmp_path / "run")
        assert _product_of_tiny_floats() == (0.0 if flush else pytest.approx(1e-40, rel=1e-3))
    finally:
        torch.set_flush_denormal(False)
