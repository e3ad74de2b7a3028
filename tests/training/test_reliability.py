"""Reliability: divergence stops the run, one process per run directory, integrity of every load, torn logs,
full disks, crafted configs, bad arguments, kills at every point of a checkpoint save (docs/reliability.md)."""

import contextlib
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest
import torch

import process_utils
import torchperceiver as tp
from mlm_utils import TINY, final_weights
from torchperceiver.cli import main
from torchperceiver.core import io
from torchperceiver.training import checkpoint, lock
from torchperceiver.training.logging import TornLogWarning, read_metrics
from torchperceiver.training.sampler import EvalSampler

torch.set_num_threads(1)


def _error(capsys, *argv, code=2) -> str:
    assert main([str(a) for a in argv]) == code
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after any eval lines a run printed
    assert err.startswith("error: "), err
    return err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run with checkpoints at steps 3 and 6."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--out", str(run), "--set", *TINY]) == 0
    return run


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved") / "model"
    tp.build("language-mlm", **_TINY_MLM).save_pretrained(directory)
    return directory


_TINY_MLM = dict(num_latents=4, latent_dim=16, num_layers=1, num_self_heads=2, num_cross_heads=2, qk_channels=8,
                 embed_dim=8, max_seq_len=16)  # fmt: skip


# -- divergence ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", ["1e3", "1e30"])
def test_divergence_stops_the_run_and_saves_nothing_non_finite(tmp_path, capsys, lr):
    run = tmp_path / "run"
    err = _error(capsys, "train", "--out", run, "--set", *TINY, "optim.name=adamw", f"optim.lr={lr}", code=3)
    assert "training diverged: non-finite" in err and "at step" in err
    for ckpt in checkpoint.checkpoints(run / "checkpoints"):
        weights = final_weights(ckpt)
        assert all(torch.isfinite(v).all() for v in weights.values()), f"{ckpt} holds non-finite weights"


def test_divergence_after_a_good_checkpoint_names_it(tmp_path, capsys, monkeypatch):
    from torchperceiver.models.language import mlm
    from torchperceiver.training.task import TaskOutput

    real, calls = mlm.MLMTask.loss, []

    def poisoned(self, model, batch):
        out = real(self, model, batch)
        if model.training:
            calls.append(1)
            if len(calls) >= 5:  # the loss of step 5 on
                return TaskOutput(out.loss * torch.nan, out.count, out.metrics)
        return out

    monkeypatch.setattr(mlm.MLMTask, "loss", poisoned)
    run = tmp_path / "run"
    err = _error(capsys, "train", "--out", run, "--set", *TINY, code=3)
    assert "non-finite loss at step 5" in err and "step-00000003" in err
    assert checkpoint.resolve(run, "run").name == "step-00000003", "last still points at the good checkpoint"


@pytest.mark.parametrize("setting", ["optim.lr=.inf", "optim.lr=.nan", "train.clip_grad_norm=.nan", "optim.eps=.inf"])
def test_non_finite_settings_are_refused_up_front(tmp_path, capsys, setting):
    err = _error(capsys, "train", "--out", tmp_path / "run", "--set", *TINY, setting)
    name, value = setting.split("=")
    assert f"{name}: expected a finite number" in err or f"{name}: expected > 0, got {value[1:]}" in err
    assert not (tmp_path / "run").exists()


# -- one process per run directory ------------------------------------------------------------------


def test_a_second_process_on_a_run_directory_is_refused_and_a_dead_holder_is_taken_over(run, capsys):
    recipe = (run / "recipe.yaml").read_bytes()
    code = "import sys; from pathlib import Path; from torchperceiver.training import lock; "
    code += f"lock.acquire(Path({str(run)!r})); print('held', flush=True); sys.stdin.read()"
    command = [sys.executable, "-c", code]
    with process_utils.group(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline().strip() == "held"
        err = _error(capsys, "train", "--resume", run, "--extend", "--steps", "8")
        assert f"run directory {run} is in use by process {holder.pid}" in err
        assert "already holds a run" in _error(capsys, "train", "--out", run, "--set", *TINY)
        assert (run / "recipe.yaml").read_bytes() == recipe
    assert main(["train", "--resume", str(run), "--extend", "--steps", "8"]) == 0, "a dead holder's lock is stale"


def test_lock_is_reentrant_in_one_process_and_released(tmp_path):
    with lock.hold(tmp_path), lock.hold(tmp_path):
        pass
    with lock.hold(tmp_path):
        assert (tmp_path / lock.LOCK_FILE).read_text().startswith(f"process {os.getpid()}")


# -- resume validates before it writes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "model.num_layers=3"], "its weights do not fit the recipe's model"),
        (["--set", "model.latent_dim=64"], "checkpoint (32,), recipe (64,)"),
        (["--steps", "3"], "--steps: the run is made for 6 steps"),
        (["--steps", "9"], "add --extend"),
        (["--extend", "--steps", "4"], "--extend: expected --steps above the run's 6, got 4"),
    ],
)
def test_a_refused_resume_changes_nothing(run, capsys, argv, message):
    def contents():
        return {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != lock.LOCK_FILE}

    before = contents()
    assert message in _error(capsys, "train", "--resume", run, *argv)
    assert contents() == before


def test_a_corrupt_checkpoint_resume_leaves_the_recipe(run, capsys):
    (run / "checkpoints" / "step-00000006" / "model.safetensors").write_bytes(b"junk")
    recipe = (run / "recipe.yaml").read_bytes()
    assert "model.safetensors is truncated" in _error(capsys, "train", "--resume", run, "--extend", "--steps", "9")
    assert (run / "recipe.yaml").read_bytes() == recipe


def test_resuming_a_finished_run_does_nothing_and_says_how_to_extend(run, capsys):
    assert main(["train", "--resume", str(run)]) == 0
    assert "already finished (6 of 6 steps)" in capsys.readouterr().out


def test_extend_keeps_the_old_schedule_and_starts_a_documented_new_cycle(run, finished, capsys):
    assert main(["train", "--resume", str(run), "--extend", "--steps", "10"]) == 0
    out = capsys.readouterr().out
    assert "extending the run from 6 to 10 steps" in out and "train.restarts=[6]" in out
    lrs = {r["step"]: r["train/lr"] for r in read_metrics(run) if "train/lr" in r}
    old = {r["step"]: r["train/lr"] for r in read_metrics(finished) if "train/lr" in r}
    assert all(lrs[s] == old[s] for s in old), "the first 6 steps' schedule is unchanged"
    assert lrs[10] == old[6], "the new cycle ends where a cycle ends"
    assert checkpoint.resolve(run, "run").name == "step-00000010"
    assert main(["train", "--resume", str(run)]) == 0, "an extended run resumes with its own schedule"


def test_a_first_save_that_failed_can_be_resumed(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    err = _error(capsys, "train", "--out", run, "--set", *TINY)
    assert f"no space left writing {run}/checkpoints/step-00000003/state.pt" in err
    assert not (run / "checkpoints" / "last").exists()
    monkeypatch.undo()
    assert "--resume" in _error(capsys, "train", "--out", run, "--set", *TINY)
    assert main(["train", "--resume", str(run)]) == 0
    assert "no checkpoint yet: starting from step 0" in capsys.readouterr().out
    assert [r["step"] for r in read_metrics(run) if "train/loss" in r] == [2, 4, 6], "the first try's log is gone"


def test_torch_zip_writer_disk_full_is_named(tmp_path, monkeypatch):
    def broken(obj, path):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoint.torch, "save", broken)
    monkeypatch.setattr(io.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(100, 100, 0))
    with pytest.raises(OSError, match=r"no space left writing .*state\.pt"):
        checkpoint.save(tmp_path, 1, {"w": torch.ones(2)}, {}, {}, keep=2)
    assert not checkpoint.checkpoints(tmp_path)


# -- the kill-during-save matrix (in-process: a crash at each write of a save) ------------------------


class Crash(BaseException):
    pass


@pytest.mark.parametrize("point", range(6))
def test_a_crash_at_any_point_of_a_save_leaves_a_usable_last_checkpoint(tmp_path, monkeypatch, point):
    root = tmp_path / "checkpoints"
    first = checkpoint.save(root, 1, {"w": torch.ones(3)}, {}, {"step": 1}, keep=2)
    calls = {"n": 0}
    real_replace = os.replace

    def replace(src, dst):  # the writes of a save are: weights, config, state, manifest, dir rename, pointer
        calls["n"] += 1
        if calls["n"] > point:
            raise Crash
        real_replace(src, dst)

    real_write = checkpoint._write

    def write(path, writer, target):
        calls["n"] += 1
        if calls["n"] > point:
            raise Crash
        real_write(path, writer, target)

    monkeypatch.setattr(checkpoint, "_write", write)
    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with contextlib.suppress(Crash):
        checkpoint.save(root, 2, {"w": torch.full((3,), 2.0)}, {}, {"step": 2}, keep=2)
    monkeypatch.undo()
    last = checkpoint.resolve(tmp_path, "run")
    checkpoint.verify(last)
    assert last in (first, root / "step-00000002")
    for ckpt in checkpoint.checkpoints(root):
        checkpoint.verify(ckpt)


# -- integrity of every load -------------------------------------------------------------------------


def _flip_a_bit(path, offset=-20):
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def test_save_pretrained_writes_a_manifest_and_load_refuses_a_flipped_bit(saved, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    assert set(json.loads((copy / "manifest.json").read_text())["files"]) == {"config.json", "model.safetensors"}
    tp.load(copy)
    _flip_a_bit(copy / "model.safetensors")
    with pytest.raises(ValueError, match=r"model.safetensors is corrupt \(SHA-256 differs"):
        tp.load(copy)


def test_predict_refuses_a_corrupt_checkpoint(run, capsys):
    _flip_a_bit(run / "checkpoints" / "step-00000006" / "model.safetensors")
    err = _error(capsys, "predict", "fill-mask", "--checkpoint", run, "a [MASK] b")
    assert "model.safetensors is corrupt" in err


def test_a_pointer_out_of_the_run_directory_is_refused(run, capsys):
    (run / "checkpoints" / "last").write_text("../../elsewhere\n")
    assert "should name a checkpoint like step-" in _error(capsys, "predict", "fill-mask", "--checkpoint", run, "a")


@pytest.mark.parametrize("num_latents", [20_000_000, 10**12])
def test_a_crafted_config_fails_on_the_header_before_allocating(saved, tmp_path, num_latents):
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    (copy / "manifest.json").unlink()  # as if hand-made: only the header check stands between it and the allocator
    config = json.loads((copy / "config.json").read_text())
    config["encoder"]["num_latents"] = num_latents
    (copy / "config.json").write_text(json.dumps(config))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"tensor 'encoder.latents' has shape \[4, 16\], config.json gives"):
        tp.load(copy)
    assert time.perf_counter() - start < 10


def test_a_damaged_safetensors_header_is_named(saved, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    (copy / "manifest.json").unlink()
    (copy / "model.safetensors").write_bytes((10**15).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="not a safetensors file"):
        tp.load(copy)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(format_version=99), "config.format_version: expected 1 or 2, got 99"),
        (lambda c: c.update(format_version="abc"), "got 'abc'"),
        (lambda c: c.pop("format_version"), "got None"),
        (lambda c: c.update(bogus=1), "unknown fields ['bogus']"),
        (lambda c: c.pop("input_adapter"), "config.input_adapter: expected an adapter config object"),
        (lambda c: c.update(encoder=None), "config.encoder: expected an object, got None"),
        (lambda c: c["encoder"].update(num_latents=2e7), "encoder.num_latents: expected an integer, got 20000000.0"),
        (lambda c: c["encoder"].update(num_latents="8"), "encoder.num_latents: expected an integer, got '8'"),
        (lambda c: c["block"].update(activation="relu"), "block.activation: expected one of ['gelu', 'gelu_tanh']"),
        (lambda c: c["block"].update(attention_dropout=2.0), "block.attention_dropout: expected a probability"),
        (lambda c: c["input_adapter"].update(embed_dim=-4), "embed_dim: expected an integer >= 1, got -4"),
        (lambda c: c.update(activation_checkpointing="yes"), "activation_checkpointing: expected true or false"),
    ],
)
def test_bad_config_json_is_a_clear_error(saved, tmp_path, edit, message):
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    (copy / "manifest.json").unlink()
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as err:
        tp.load(copy)
    assert message in str(err.value)


def test_a_config_json_that_is_a_list_is_a_clear_error(saved, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    (copy / "manifest.json").unlink()
    (copy / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="config: expected a JSON object, got list"):
        tp.load(copy)


# -- bad preset arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("num_latents", -1, "num_latents: expected an integer >= 1, got -1"),
        ("num_latents", "8", "num_latents: expected an integer, got '8'"),
        ("num_latents", 8.5, "num_latents: expected an integer, got 8.5"),
        ("num_latents", 0, "num_latents: expected an integer >= 1, got 0"),
        ("latent_dim", 0, "latent_dim: expected an integer >= 1, got 0"),
        ("num_layers", -1, "num_layers: expected an integer >= 1, got -1"),
        ("num_self_heads", 0, "num_self_heads: expected an integer >= 1, got 0"),
        ("embed_dim", -4, "embed_dim: expected an integer >= 1, got -4"),
        ("attention_dropout", 2.0, "attention_dropout: expected a probability in [0, 1], got 2.0"),
        ("activation", "relu", "activation: expected one of ['gelu', 'gelu_tanh'], got 'relu'"),
        ("activation_checkpointing", 1, "activation_checkpointing: expected true or false, got 1"),
    ],
)
def test_bad_preset_arguments_are_one_line_errors(argument, value, message):
    with pytest.raises(ValueError) as err:
        tp.build("language-mlm", **{**_TINY_MLM, argument: value})
    assert str(err.value) == message


def test_bad_model_values_in_a_recipe_are_refused_before_anything_is_written(tmp_path, capsys):
    err = _error(capsys, "train", "--out", tmp_path / "run", "--set", *TINY, "model.num_latents=0")
    assert "--set: model.num_latents: expected an integer >= 1, got 0" in err
    assert not (tmp_path / "run").exists()


# -- the command line --------------------------------------------------------------------------------


def test_out_that_is_a_file_or_under_one(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("x")
    assert "is a file" in _error(capsys, "train", "--out", file, "--set", *TINY)
    assert "is a file or under one" in _error(capsys, "train", "--out", file / "sub", "--set", *TINY)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_out_that_is_unwritable(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert "permission denied" in _error(capsys, "train", "--out", locked / "run", "--set", *TINY)


def test_an_unknown_best_metric_is_found_before_the_run_starts(tmp_path, capsys):
    err = _error(capsys, "train", "--out", tmp_path / "run", "--set", *TINY, "train.best_metric=eval/bogus")
    assert "train.best_metric: expected one of ['eval/accuracy'" in err and "got 'eval/bogus'" in err
    assert not (tmp_path / "run" / "recipe.yaml").exists()


def test_a_bad_set_key_is_blamed_on_set_and_a_resumed_header_names_the_run(run, capsys):
    assert _error(capsys, "train", "--out", run.parent / "new", "--set", *TINY, "optim.lrr=1").startswith(
        "error: --set: "
    )
    assert main(["train", "--resume", str(run), "--extend", "--steps", "8"]) == 0
    assert capsys.readouterr().out.startswith(f"run {run.name}: task mlm")


def test_predict_on_a_missing_gpu_says_so(finished, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    err = _error(capsys, "predict", "fill-mask", "--checkpoint", finished, "--device", "cuda", "a [MASK] b")
    assert "no CUDA GPU" in err


def test_a_tiny_corpus_says_how_much_text_it_needs(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("abcd")
    err = _error(capsys, "train", "--out", tmp_path / "run", "--set", *TINY, f"data.corpus={corpus}")
    assert "data.corpus: expected at least" in err and "got 4" in err


# -- torn logs ---------------------------------------------------------------------------------------


def test_a_torn_last_log_line_is_dropped_with_a_warning_and_the_run_resumes(run, capsys):
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 7, "train/lo')
    with pytest.warns(TornLogWarning, match="dropped a torn last line"):
        assert main(["plot", str(run)]) == 0
    with pytest.warns(TornLogWarning):
        assert main(["train", "--resume", str(run / "checkpoints" / "step-00000003")]) == 0
    assert [r["step"] for r in read_metrics(run) if "train/loss" in r] == [2, 4, 6]


def test_other_log_damage_names_the_file_and_line(run, capsys):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:10]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    err = _error(capsys, "plot", run)
    assert f"{run / 'metrics.jsonl'}: line 2 is damaged" in err


# -- file modes --------------------------------------------------------------------------------------


def test_saved_files_get_the_usual_mode_under_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["train", "--out", str(tmp_path / "run"), "--set", *TINY, "train.steps=3"]) == 0
        tp.build("language-mlm", **_TINY_MLM).save_pretrained(tmp_path / "model")
    finally:
        os.umask(old)
    files = [tmp_path / "run" / "recipe.yaml", tmp_path / "run" / "checkpoints" / "last"]
    files += list((tmp_path / "run" / "checkpoints" / "step-00000003").iterdir())
    files += list((tmp_path / "model").iterdir())
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file
    assert stat.S_IMODE((tmp_path / "run" / "checkpoints" / "step-00000003").stat().st_mode) == 0o755


# -- inputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_images_of_another_float_dtype_are_cast(dtype):
    model = tp.build("vision-fourier", num_latents=4, latent_dim=16, num_blocks=1, num_layers=1, num_self_heads=2,
                     num_bands=2, max_resolution=(8, 8), num_classes=3).eval()  # fmt: skip
    images = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        expected = model(images)
        got = model(images.to(dtype))
    assert got.dtype == torch.float32 and got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=0.05, rtol=0)


def test_an_empty_image_is_refused():
    model = tp.build("vision-fourier", num_latents=4, latent_dim=16, num_blocks=1, num_layers=1, num_self_heads=2,
                     num_bands=2, max_resolution=(8, 8), num_classes=3)  # fmt: skip
    with pytest.raises(ValueError, match="images: expected at least 1 image of at least 1×1 pixels"):
        model(torch.rand(1, 3, 0, 0))


# -- distributed evaluation --------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "world", "batch"), [(733, 2, 4), (733, 2, 1), (10, 3, 4), (7, 4, 2), (2, 4, 3)])
def test_distributed_evaluation_scores_every_example_once(size, world, batch):
    samplers = [EvalSampler(size, batch, rank, world) for rank in range(world)]
    scored = [i for s in samplers for b in list(s)[: s.real_batches] for i in b]
    assert sorted(scored) == list(range(size))
    assert len({len(list(s)) for s in samplers}) == 1, "every rank runs the same number of forwards"
