"""The flow task: loss as a sum over pixels, evaluation with tiled prediction beside zero flow, a 2-step
training run through the CLI and ``predict flow`` on its checkpoint."""

import numpy as np
import pytest
import torch
from PIL import Image

from mlm_utils import cli
from torchperceiver.models.flow.metrics import FLOW_METRICS
from torchperceiver.models.flow.synthetic import AutoFlowConfig
from torchperceiver.models.flow.task import FlowDataConfig, FlowTask
from torchperceiver.presets import model_section

SMALL = dict(train_size=(8, 12), num_latents=8, latent_dim=16, num_layers=1, num_self_heads=2, num_bands=4, patch_dim=8)
TINY_RUN = [
    *(f"model.{k}={list(v) if isinstance(v, tuple) else v}" for k, v in SMALL.items()),
    "data.eval_pairs=2",
    "data.motorcycle_factor=0.0625",
    "data.min_overlap=2",
    "data.synthetic.max_layers=1",
    "train.steps=2",
    "train.batch_size=2",
    "train.eval_every=2",
    "train.checkpoint_every=2",
    "train.progress=false",
    "train.tensorboard=false",
]


@pytest.fixture(scope="module")
def task():
    torch.set_num_threads(1)
    data = FlowDataConfig(synthetic=AutoFlowConfig(max_layers=1), eval_pairs=2, motorcycle_factor=1 / 16, min_overlap=2)
    return FlowTask(model_section("optical-flow")(**SMALL), data, seed=0)


def test_training_loss_is_a_sum_over_pixels(task):
    model = task.build_model()
    out = task.loss(model, {"index": torch.tensor([0, 1])})
    assert out.count == 2 * 8 * 12
    total, count = out.metrics["zero_epe"]
    assert count == out.count
    # The official zero-initialised head predicts zero flow: the loss equals the zero-flow baseline.
    torch.testing.assert_close(out.loss, total)
    out.loss.backward()
    assert model.output_adapter.head.weight.grad.abs().sum() > 0


def test_evaluation_reports_every_metric_beside_zero_flow(task):
    model = task.build_model().eval()
    assert len(task.eval_dataset()) == 3  # 2 synthetic pairs + Motorcycle
    names = task.metric_names()
    assert names[: len(FLOW_METRICS)] == list(FLOW_METRICS) and "moto_zero_fl_all" in names
    only_moto = task.loss(model, {"index": torch.tensor([2])})
    assert list(only_moto.metrics) == names  # a fixed set, so ranks and batches add up
    assert only_moto.metrics["epe"][1] == 0 and only_moto.metrics["moto_epe"][1] > 0
    both = task.loss(model, {"index": torch.tensor([0, 1, 2])})
    for prefix in ("", "moto_"):
        ours, zero = both.metrics[prefix + "epe"], both.metrics[prefix + "zero_epe"]
        torch.testing.assert_close(ours, zero)  # zero head = zero flow
        assert ours[1] > 0
    assert "Motorcycle 46×31" in task.demo(model)


def test_data_config_errors():
    with pytest.raises(ValueError, match="render_scale"):
        FlowDataConfig(render_scale=0.5)
    with pytest.raises(ValueError, match="benchmark"):
        FlowDataConfig(benchmark="sintel-clean")


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def _predict(capsys, *args):
    """``torchperceiver predict flow ARGS`` in this process (the parser of the real CLI)."""
    from torchperceiver.cli import main

    code = main(["predict", "flow", *map(str, args)])
    return code, capsys.readouterr()


def test_train_two_steps_then_predict_flow(tmp_path, capsys):
    result = cli("train", "flow-tiny", "--out", tmp_path / "run", "--set", *TINY_RUN, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "Middlebury Motorcycle" in result.stdout
    assert (tmp_path / "run" / "flow-predictions.png").exists()
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    first, second = _png(tmp_path / "a.png", big), _png(tmp_path / "b.png", np.roll(big, 1, axis=1))
    out = tmp_path / "flow.png"
    run = tmp_path / "run"
    code, _ = _predict(
        capsys, "--checkpoint", run, first, second, "--out", out, "--flo", tmp_path / "f.flo", "--arrows"
    )
    assert code == 0
    with Image.open(out) as image:
        assert image.size == (30, 20) and image.mode == "RGB"
    assert (tmp_path / "f.flo").stat().st_size == 12 + 20 * 30 * 8
    assert (tmp_path / "flow-arrows.png").exists()
    small = _png(tmp_path / "s.png", big[:5, :6])
    code, printed = _predict(capsys, "--checkpoint", run, small, small, "--out", tmp_path / "s-flow.png")
    assert code == 0 and "resized up" in printed.out
    with Image.open(tmp_path / "s-flow.png") as image:
        assert image.size == (6, 5)
    code, printed = _predict(capsys, "--checkpoint", run, first, small, "--out", tmp_path / "x.png")
    assert code != 0 and "frame2" in printed.err
