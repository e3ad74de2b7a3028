"""``tune latents``: the ladder, successive halving, the choice, FLOPs, and a real 2-rung search that resumes."""

import json

import pytest
import torch

from torchperceiver.cli import main
from torchperceiver.training import recipe
from torchperceiver.training.tune import (
    RESULTS,
    Result,
    Search,
    choose,
    forward_flops,
    geometric_ladder,
    survivors,
)

TINY = [
    "data.max_entities=8",
    "data.min_entities=4",
    "data.eval_scenes=4",
    "model.max_entities=8",
    "model.embed_dim=8",
    "model.latent_dim=8",
    "model.num_layers=1",
    "model.num_self_heads=1",
    "model.num_cross_heads=1",
    "train.batch_size=2",
    "train.log_every=1",
    "train.eval_every=100",
    "train.checkpoint_every=100",
    "train.threads=1",
]


def _search(**kw):
    args = dict(recipe="entities-tiny", overrides=(), ladder=(4, 8, 16, 32), steps=8, rungs=3, eta=2,
                metric="eval/accuracy", mode="max", tolerance=0.01)  # fmt: skip
    return Search(**{**args, **kw})


def _result(latents, metric, rung=0):
    return Result(latents, rung, 2, metric, 1e6 * latents, 100, 1.0, 10.0, "")


def test_geometric_ladder_always_ends_at_the_maximum():
    assert geometric_ladder(8, 64) == (8, 16, 32, 64)
    assert geometric_ladder(8, 100, 3) == (8, 24, 72, 100)
    with pytest.raises(ValueError, match="--min/--max/--factor"):
        geometric_ladder(16, 8)


def test_rung_budgets_grow_by_eta_up_to_the_full_steps():
    search = _search(steps=400)
    assert [search.rung_steps(r) for r in range(3)] == [100, 200, 400]
    with pytest.raises(ValueError, match=r"--steps: expected at least eta\^\(rungs-1\) = 4"):
        _search(steps=3)


def test_halving_keeps_the_best_and_everything_within_tolerance():
    search = _search()
    rung = [_result(4, 0.50), _result(8, 0.895), _result(16, 0.90), _result(32, 0.905)]
    assert survivors(rung, search) == [8, 16, 32], "the top half (32, 16) and 8, within 0.01 of the best"
    assert survivors(rung, _search(tolerance=0.0)) == [16, 32]
    assert survivors([_result(4, 0.2), _result(8, 0.1)], _search(mode="min")) == [8]


def test_the_choice_is_the_smallest_within_tolerance_at_the_last_rung():
    results = [_result(4, 0.99), _result(8, 0.895, rung=1), _result(16, 0.90, rung=1), _result(32, 0.905, rung=1)]
    assert choose(results, _search()).latents == 8
    assert choose(results, _search(tolerance=0.001)).latents == 32


def test_flops_count_attention_and_grow_with_the_latents():
    torch.set_num_threads(1)
    flops = []
    for latents in (4, 16):
        task = recipe.load("entities-tiny", [*TINY, f"model.num_latents={latents}"]).build_task()
        flops.append(forward_flops(task, task.build_model()))
    assert 0 < flops[0] < flops[1]


def _args(out, *extra):
    return ["tune", "latents", "entities-tiny", "--set", *TINY, "--out", str(out), "--latents", "2,4",
            "--steps", "4", "--rungs", "2", *extra, "--tolerance", "1"]  # fmt: skip


def test_a_two_rung_search_writes_its_outputs_and_resumes(tmp_path, capsys):
    out = tmp_path / "tune"
    args = _args(out, "--in-process")
    assert main(args) == 0
    data = json.loads((out / RESULTS).read_text())
    runs = [(r["latents"], r["rung"], r["steps"]) for r in data["results"]]
    assert runs == [(2, 0, 2), (4, 0, 2), (2, 1, 4), (4, 1, 4)]
    assert all(r["flops_per_sample"] > 0 and r["peak_memory_mb"] > 0 for r in data["results"])
    assert data["choice"]["latents"] == 2, "tolerance 1 accepts any accuracy: the smallest wins"
    assert "num_latents: 2" in (out / "override.yaml").read_text()
    assert "num_latents: 2" in (out / "recipe.yaml").read_text()
    assert (out / "tune.png").stat().st_size > 0
    assert "chosen: num_latents=2" in capsys.readouterr().out

    data["results"] = data["results"][:3]  # as if stopped during the last run
    (out / RESULTS).write_text(json.dumps(data))
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "resuming: 3 finished run(s)" in printed
    assert len(json.loads((out / RESULTS).read_text())["results"]) == 4

    assert main([*args[:-2], "--tolerance", "0.5"]) == 2, "another search in the same directory is refused"
    assert "holds a search with other settings" in capsys.readouterr().err


@pytest.mark.slow
def test_runs_in_child_processes_measure_their_own_memory(tmp_path):
    out = tmp_path / "tune"
    assert main(_args(out)) == 0
    results = json.loads((out / RESULTS).read_text())["results"]
    assert len(results) == 4 and all(r["peak_memory_mb"] > 0 for r in results)
