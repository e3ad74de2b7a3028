"""Checkpoints lose nothing: exact resume after SIGKILL or SIGTERM, atomic writes, clear errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

import process_utils
from mlm_utils import TINY, cli, final_weights, finished_run
from torchperceiver.cli import main
from torchperceiver.training import checkpoint

LONG = [*TINY, "train.steps=40", "train.checkpoint_every=4", "train.eval_every=8", "train.log_every=4"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, never interrupted."""
    directory = tmp_path_factory.mktemp("reference")
    finished_run(directory, LONG)
    return directory / "run"


def _start_and_stop(run, how: signal.Signals) -> tuple[int, str, str]:
    """Start the run, wait for its first checkpoint, then send ``how``; ``(returncode, stdout, stderr)``."""
    command = [sys.executable, "-m", "torchperceiver.cli", "train", "--out", str(run), "--set", *LONG]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with process_utils.group(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=10)
            time.sleep(0.01)
        proc.send_signal(how)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, out, err


def _train_records(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "train/samples_per_s")} for r in rows]


def _assert_same_run(run, reference):
    got, expected = final_weights(run), final_weights(reference)
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in got), "weights differ from the uninterrupted run"
    assert _train_records(run) == _train_records(reference), "metrics history differs"


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, reference):
    run = tmp_path / "run"
    returncode, _, _ = _start_and_stop(run, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    stopped_at = json.loads((checkpoint.resolve(run, "run") / "manifest.json").read_text())["step"]
    assert stopped_at < 40, "the kill came after the end: nothing was resumed"
    result = cli("train", "--resume", run)
    assert result.returncode == 0, result.stderr
    _assert_same_run(run, reference)


def test_sigterm_saves_and_exits_then_resumes_exactly(tmp_path, reference):
    run = tmp_path / "run"
    returncode, out, err = _start_and_stop(run, signal.SIGTERM)
    assert returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM at step" in out and f"--resume {run}" in out
    result = cli("train", "--resume", run)
    assert result.returncode == 0, result.stderr
    _assert_same_run(run, reference)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run with checkpoints at steps 3 and 6."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--out", str(run), "--set", *TINY]) == 0
    assert [p.name for p in checkpoint.checkpoints(run / "checkpoints")] == ["step-00000003", "step-00000006"]
    return run


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.write_bytes(f.read_bytes()[:-100]), "model.safetensors is truncated"),
        (lambda f: f.write_bytes(f.read_bytes()[:64] + b"\x00" + f.read_bytes()[65:]), "model.safetensors is corrupt"),
        (lambda f: f.with_name("state.pt").write_bytes(b"junk"), "state.pt is truncated"),
        (lambda f: f.with_name("manifest.json").unlink(), "manifest.json is missing"),
    ],
)
def test_damaged_checkpoint_is_a_clear_error_and_the_earlier_one_is_intact(finished, tmp_path, capsys, damage, message):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    damage(run / "checkpoints" / "step-00000006" / "model.safetensors")
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "step-00000003" in err and "\n" not in err
    checkpoint.verify(run / "checkpoints" / "step-00000003")


def test_resume_from_an_earlier_checkpoint(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    (run / "checkpoints" / "step-00000006" / "state.pt").write_bytes(b"junk")
    assert main(["train", "--resume", str(run / "checkpoints" / "step-00000003")]) == 0
    assert (run / "checkpoints" / "last").read_text().strip() == "step-00000006"
    checkpoint.verify(run / "checkpoints" / "step-00000006")  # rewritten by the resumed run
    expected = final_weights(finished)
    assert all(torch.equal(v, expected[k]) for k, v in final_weights(run).items())


def test_a_write_that_fails_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    state = {"w": torch.ones(3)}
    first = checkpoint.save(root, 1, state, {}, {"step": 1}, keep=2)

    def broken_save(obj, path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(root, 2, state, {}, {"step": 2}, keep=2)
    assert checkpoint.resolve(tmp_path, "run") == first
    assert sorted(p.name for p in root.iterdir()) == ["last", "step-00000001"], "no partial checkpoint left"
    checkpoint.verify(first)


def test_pruning_keeps_the_newest_and_the_best(tmp_path):
    root = tmp_path / "checkpoints"
    state = {"w": torch.ones(3)}
    checkpoint.save(root, 1, state, {}, {}, keep=2)
    checkpoint.save(root, 2, state, {}, {}, keep=2, best=True)
    for step in (3, 4, 5):
        checkpoint.save(root, step, state, {}, {}, keep=2)
    assert [p.name for p in checkpoint.checkpoints(root)] == ["step-00000002", "step-00000004", "step-00000005"]
    assert checkpoint.resolve(tmp_path, "run", checkpoint.BEST).name == "step-00000002"
