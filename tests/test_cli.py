"""The command line: recipes listed, bad input as one-line errors, a tiny end-to-end run, plot."""

import json

import pytest

from mlm_utils import TINY
from torchperceiver.cli import main


def _error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_train_help_lists_the_recipes(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "recipes:" in out and "mlm-tiny" in out and "--set KEY=VALUE" in out


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.lrr=1"], "does not accept option 'lrr'"),
        (["trainer.steps=1"], "'trainer.steps' is not accepted"),
        (["train.steps=abc"], 'Parser key "train.steps": Expected a int. Got value: abc'),
        (["train.steps=-5"], "train.steps: expected a positive number, got -5"),
        (["train.flush_denormal=maybe"], 'Parser key "train.flush_denormal": Expected a bool. Got value: maybe'),
        (["optim.lr=-1"], "optim.lr: expected > 0, got -1"),
        (["optim.name=sgd"], "optim.name"),
        (["model.activation=relu"], "model.activation"),
        (["model.num_layers=2.5"], "model.num_layers"),
        (["data.mask_prob=1.5"], "data.mask_prob: expected a value in (0, 1), got 1.5"),
        (["train.precision=fp8"], "train.precision"),
        (["train.device=tpu"], "train.device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
        (["task=vision"], "task: expected one of ["),
        (["train=5"], "train: expected a mapping of fields, got 5"),
        (["nonsense"], "--set: expected key=value"),
        (["data.corpus=/no/such/corpus.txt"], "data.corpus: expected 'embedded' or an existing path"),
        (["train.batch_size=6", "train.micro_batch_size=4"], "train.batch_size: expected a multiple of"),
    ],
)
def test_bad_recipe_values_are_one_line_errors(tmp_path, capsys, overrides, message):
    err = _error(capsys, "train", "--out", str(tmp_path / "run"), "--set", *overrides)
    assert message in err
    assert not (tmp_path / "run").exists(), "nothing is written for a rejected recipe"


def test_bad_recipe_files_and_corpora(tmp_path, capsys):
    err = _error(capsys, "train", "no-such-recipe")
    assert "recipe: expected one of [" in err and "'mlm-tiny'" in err and "got 'no-such-recipe'" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: mlm\noptim: [1, 2\n")
    assert "not valid YAML" in _error(capsys, "train", str(bad), "--out", str(tmp_path / "a"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    err = _error(capsys, "train", "--out", str(tmp_path / "b"), "--set", f"data.corpus={empty}")
    assert "data.corpus: expected some text, got an empty corpus" in err
    assert "--resume: expected a run directory" in _error(capsys, "train", "--resume", str(tmp_path))


def test_tiny_run_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    corpus = tmp_path / "corpus.jsonl"
    lines = [
        json.dumps({"text": f"Document {i}: the quick brown fox jumps over the lazy dog. " * 4}) for i in range(60)
    ]
    corpus.write_text("\n".join(lines))
    assert main(["train", "--out", str(run), "--set", *TINY, f"data.corpus={corpus}", "train.tensorboard=true"]) == 0
    out = capsys.readouterr().out
    assert "done: step 6" in out and "example:" in out and "predicted:" in out
    assert (run / "checkpoints" / "last").read_text().strip() == "step-00000006"
    assert list((run / "tensorboard").iterdir()), "TensorBoard events written"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train/loss" in r] == [2, 4, 6]
    assert [r["step"] for r in records if "eval/loss" in r] == [3, 6]

    assert "already holds a run" in _error(capsys, "train", "--out", str(run))
    assert main(["predict", "fill-mask", "--checkpoint", str(run), "the quick [MASK][MASK][MASK][MASK][MASK] fox"]) == 0
    filled = capsys.readouterr().out.strip()
    assert filled.startswith("the quick ") and filled.endswith(" fox") and len(filled.encode()) == 19

    assert main(["plot", str(run)]) == 0
    png = run / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {png}" in capsys.readouterr().out


def test_plot_needs_metrics(tmp_path, capsys):
    assert "expected metrics.jsonl" in _error(capsys, "plot", str(tmp_path))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_runs_and_checkpoints_its_scaler(tmp_path, capsys, precision):
    import torch

    from torchperceiver.training import checkpoint

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--set", *TINY, f"train.precision={precision}"]) == 0
    state = torch.load(checkpoint.resolve(run, "run") / "state.pt", weights_only=True)
    assert bool(state["scaler"]) == (precision == "fp16"), "only fp16 needs a gradient scaler"
    assert "done: step 6" in capsys.readouterr().out


def test_plot_draws_baselines_in_their_metrics_panel():
    from torchperceiver.training.plot import panels

    accuracies = ["train/accuracy", "eval/accuracy", "eval/unigram_accuracy", "eval/context_free_accuracy"]
    assert panels([*accuracies, "train/grad_norm"]) == {
        "accuracy": ["eval/accuracy", "eval/context_free_accuracy", "eval/unigram_accuracy", "train/accuracy"],
        "grad_norm": ["train/grad_norm"],
    }
