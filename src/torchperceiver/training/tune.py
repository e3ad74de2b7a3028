"""``torchperceiver tune latents RECIPE``: the smallest latent array that does (almost) as well as the best.

The paper picks the latent size by hand (e.g. 32 latents for 512 StarCraft entities) and leaves auto-tuning
it open. This search trains short, seeded runs of any recipe at a geometric ladder of ``model.num_latents``
and halves the field after each rung (successive halving): rung ``r`` of ``R`` trains every surviving
setting from scratch for ``steps / eta^(R-1-r)`` steps, then keeps the best ``1/eta`` of them, plus every
setting within ``tolerance`` of the rung's best (the answer must not be dropped for being cheap). Only
``model.num_latents`` and ``train.steps`` change between runs; everything else is the recipe's.

Each run is a ``torchperceiver train`` child process (``--in-process``: in this one). Per run the search
records the final eval metric, forward FLOPs per sample (``FlopCounterMode`` over the task's own loss call,
attention included), parameters, wall time and the peak resident memory of the run's process. The
output directory holds ``results.json`` (a rerun skips finished runs and resumes an interrupted one from
its last checkpoint), ``tune.png`` (metric against FLOPs), ``override.yaml`` and ``recipe.yaml`` (the
recipe with the chosen latent count).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.data import default_collate
from torch.utils.flop_counter import FlopCounterMode

from torchperceiver.atomic import atomic_path
from torchperceiver.commands import register_command

RESULTS = "results.json"
PLOT = "tune.png"
OVERRIDE = "override.yaml"
TUNED_RECIPE = "recipe.yaml"
FLOP_SAMPLES = 2


@dataclass(frozen=True)
class Search:
    """What a search is: a rerun in the same directory must ask for the same one."""

    recipe: str
    overrides: tuple[str, ...]
    ladder: tuple[int, ...]
    steps: int
    rungs: int
    eta: int
    metric: str
    mode: str
    tolerance: float

    def __post_init__(self) -> None:
        if not self.ladder or any(n < 1 for n in self.ladder):
            raise ValueError(f"--latents: expected positive latent counts, got {list(self.ladder)}")
        if self.rungs < 1:
            raise ValueError(f"--rungs: expected a positive int, got {self.rungs}")
        if self.eta < 2:
            raise ValueError(f"--eta: expected an int >= 2, got {self.eta}")
        if self.steps < self.eta ** (self.rungs - 1):
            raise ValueError(
                f"--steps: expected at least eta^(rungs-1) = {self.eta ** (self.rungs - 1)} so every rung trains, "
                f"got {self.steps}"
            )
        if self.mode not in ("min", "max"):
            raise ValueError(f"--mode: expected 'min' or 'max', got {self.mode!r}")
        if self.tolerance < 0:
            raise ValueError(f"--tolerance: expected >= 0, got {self.tolerance}")

    def rung_steps(self, rung: int) -> int:
        return max(1, self.steps // self.eta ** (self.rungs - 1 - rung))


@dataclass
class Result:
    latents: int
    rung: int
    steps: int
    metric: float
    flops_per_sample: float
    parameters: int
    wall_s: float
    peak_memory_mb: float
    run_dir: str


def geometric_ladder(low: int, high: int, factor: int = 2) -> tuple[int, ...]:
    """``low, low·factor, …`` up to ``high`` (``high`` itself always included)."""
    if low < 1 or high < low or factor < 2:
        raise ValueError(f"--min/--max/--factor: expected 1 <= min <= max and factor >= 2, got {low}, {high}, {factor}")
    ladder = [low]
    while ladder[-1] * factor <= high:
        ladder.append(ladder[-1] * factor)
    if ladder[-1] != high:
        ladder.append(high)
    return tuple(ladder)


def survivors(results: list[Result], search: Search) -> list[int]:
    """Latent counts that go on from a rung: the best ``ceil(n / eta)``, and all within tolerance of the best."""
    ranked = sorted(results, key=lambda r: r.metric, reverse=search.mode == "max")
    keep = {r.latents for r in ranked[: math.ceil(len(ranked) / search.eta)]}
    best = ranked[0].metric
    keep |= {r.latents for r in ranked if _within(r.metric, best, search)}
    return sorted(keep)


def choose(results: list[Result], search: Search) -> Result:
    """The smallest latent count within tolerance of the best, among the runs of the last rung that ran."""
    last = max(r.rung for r in results)
    final = [r for r in results if r.rung == last]
    best = (max if search.mode == "max" else min)(r.metric for r in final)
    return min((r for r in final if _within(r.metric, best, search)), key=lambda r: r.latents)


def _within(value: float, best: float, search: Search) -> bool:
    return abs(value - best) <= search.tolerance + 1e-12


# -- measuring one setting ------------------------------------------------------------------------------


def _sdpa_flops(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``Q Kᵀ`` and ``softmax · V``: the CPU fused kernel has no formula in ``FlopCounterMode``."""
    *batch, length, channels = query
    return 2 * math.prod(batch) * length * key[-2] * (channels + value[-1])


_EXTRA_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops}


def forward_flops(task: Any, model: torch.nn.Module, samples: int = FLOP_SAMPLES) -> float:
    """Forward FLOPs per sample of ``task.loss`` on ``samples`` held-out (or training) items.

    Counted in eval mode with autograd on, so fused inference fast paths (which hide their matmuls from the
    counter) stay off; a multiply-add counts as 2 FLOPs.
    """
    dataset = task.eval_dataset() or task.train_dataset()
    batch = default_collate([dataset[i] for i in range(samples)])
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS) as counter:
            task.loss(model, batch)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / samples


def measure_model(search: Search, latents: int) -> tuple[float, int]:
    """FLOPs per sample and parameter count of the recipe's model at ``latents``."""
    from torchperceiver.training import recipe

    rec = recipe.load(search.recipe, [*search.overrides, f"model.num_latents={latents}"])
    task = rec.build_task()
    torch.manual_seed(rec.train.seed)
    model = task.build_model()
    return forward_flops(task, model), sum(p.numel() for p in model.parameters())


def train_run(search: Search, latents: int, steps: int, run_dir: Path) -> tuple[float, float, float]:
    """Train one setting in a child process (``torchperceiver train``); returns (metric, wall s, peak MB).

    A run directory with a checkpoint is resumed; one without is started again.
    """
    if (run_dir / "checkpoints").is_dir():
        command = ["--resume", str(run_dir)]
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        sets = [*search.overrides, f"model.num_latents={latents}", f"train.steps={steps}", "train.progress=false"]
        command = [search.recipe, "--out", str(run_dir), "--set", *sets]
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (run_dir / "log.txt").open("a") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "torchperceiver.cli", "train", *command], stdout=log, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise ValueError(f"run {run_dir}: training failed with exit code {child.returncode}; see {run_dir}/log.txt")
    return final_metric(run_dir, search.metric), wall, usage.ru_maxrss / 1024


def in_process_run(search: Search, latents: int, steps: int, run_dir: Path) -> tuple[float, float, float]:
    """``train_run`` in this process: no start-up per run, but the memory is this process's peak so far."""
    from torchperceiver.cli import RECIPE_FILE
    from torchperceiver.training import Trainer, recipe

    resume = (run_dir / "checkpoints").is_dir()
    if resume:
        rec = recipe.load(run_dir / RECIPE_FILE)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        sets = [*search.overrides, f"model.num_latents={latents}", f"train.steps={steps}", "train.progress=false"]
        rec = recipe.load(search.recipe, sets)
        run_dir.mkdir(parents=True)
        (run_dir / RECIPE_FILE).write_text(rec.text)
    start = time.perf_counter()
    Trainer(rec.build_task(), rec.optim, rec.train, run_dir).fit(resume=run_dir if resume else None)
    wall = time.perf_counter() - start
    return final_metric(run_dir, search.metric), wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Runner(Protocol):
    def __call__(self, search: Search, latents: int, steps: int, run_dir: Path) -> tuple[float, float, float]: ...


def final_metric(run_dir: Path, metric: str) -> float:
    """The last logged value of ``metric`` (the trainer evaluates at the final step)."""
    values = [
        json.loads(line)[metric] for line in (run_dir / "metrics.jsonl").read_text().splitlines() if metric in line
    ]
    if not values:
        raise ValueError(f"--metric: expected {metric!r} in {run_dir}/metrics.jsonl; the recipe logs none")
    return float(values[-1])


# -- the search -----------------------------------------------------------------------------------------


class Tuner:
    """Runs ``search`` in ``out``, one rung at a time, saving ``results.json`` after every run."""

    def __init__(self, search: Search, out: Path, say: Any = print, runner: Runner = train_run) -> None:
        self.search, self.out, self.say, self.runner = search, out, say, runner
        self.results: list[Result] = []
        self.models: dict[int, tuple[float, int]] = {}
        self._load()

    def _load(self) -> None:
        path = self.out / RESULTS
        if not path.is_file():
            return
        data = json.loads(path.read_text())
        saved = Search(**{**data["search"], "overrides": tuple(data["search"]["overrides"]),
                          "ladder": tuple(data["search"]["ladder"])})  # fmt: skip
        if saved != self.search:
            raise ValueError(f"--out: {self.out} holds a search with other settings ({saved}); choose another --out")
        self.results = [Result(**r) for r in data["results"]]
        self.say(f"resuming: {len(self.results)} finished run(s) in {path}")

    def _save(self, choice: Result | None = None) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        data = {"search": asdict(self.search), "results": [asdict(r) for r in self.results]}
        if choice is not None:
            data["choice"] = asdict(choice)
        with atomic_path(self.out / RESULTS) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")

    def run(self) -> Result:
        candidates = list(self.search.ladder)
        for rung in range(self.search.rungs):
            steps = self.search.rung_steps(rung)
            self.say(f"rung {rung + 1}/{self.search.rungs}: {steps} steps for num_latents {candidates}")
            rung_results = [self._setting(latents, rung, steps) for latents in candidates]
            self.say(format_table(rung_results, self.search.metric))
            candidates = survivors(rung_results, self.search)
        choice = choose(self.results, self.search)
        self._save(choice)
        return choice

    def _setting(self, latents: int, rung: int, steps: int) -> Result:
        for result in self.results:
            if (result.latents, result.rung) == (latents, rung):
                return result
        if latents not in self.models:
            self.models[latents] = measure_model(self.search, latents)
        flops, parameters = self.models[latents]
        run_dir = self.out / "runs" / f"latents-{latents:05d}-rung-{rung}"
        metric, wall, memory = self.runner(self.search, latents, steps, run_dir)
        result = Result(latents, rung, steps, metric, flops, parameters, wall, memory, str(run_dir))
        self.results.append(result)
        self._save()
        return result


def format_table(results: list[Result], metric: str) -> str:
    header = (
        f"  {'latents':>7} {'steps':>6} {metric:>16} {'MFLOPs/sample':>14} {'params':>9} {'time s':>7} {'peak MB':>8}"
    )
    lines = [header]
    for r in sorted(results, key=lambda r: r.latents):
        lines.append(
            f"  {r.latents:>7} {r.steps:>6} {r.metric:>16.4f} {r.flops_per_sample / 1e6:>14.2f} "
            f"{r.parameters:>9,} {r.wall_s:>7.1f} {r.peak_memory_mb:>8.0f}"
        )
    return "\n".join(lines)


def write_outputs(search: Search, choice: Result, results: list[Result], out: Path) -> list[Path]:
    """The override file, the full tuned recipe and the plot."""
    from torchperceiver.training import recipe

    override = out / OVERRIDE
    with atomic_path(override) as tmp:
        tmp.write_text(
            f"# tune latents {search.recipe}: smallest num_latents within {search.tolerance} of the best "
            f"{search.metric}\n# use: torchperceiver train {search.recipe} --set model.num_latents={choice.latents}\n"
            f"model:\n  num_latents: {choice.latents}\n"
        )
    tuned = out / TUNED_RECIPE
    text = recipe.load(search.recipe, [*search.overrides, f"model.num_latents={choice.latents}"]).text
    with atomic_path(tuned) as tmp:
        tmp.write_text(f"# {search.recipe} with num_latents={choice.latents} (torchperceiver tune latents)\n{text}")
    return [override, tuned, plot_results(search, results, choice, out / PLOT)]


def plot_results(search: Search, results: list[Result], choice: Result, path: Path) -> Path:
    """Metric against forward FLOPs per sample, one line per rung, the chosen setting circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for rung in sorted({r.rung for r in results}):
        points = sorted((r for r in results if r.rung == rung), key=lambda r: r.flops_per_sample)
        xs, ys = [r.flops_per_sample for r in points], [r.metric for r in points]
        ax.plot(xs, ys, marker="o", label=f"rung {rung + 1}: {points[0].steps} steps")
        for r in points:
            ax.annotate(str(r.latents), (r.flops_per_sample, r.metric), textcoords="offset points", xytext=(4, 4))
    ax.scatter([choice.flops_per_sample], [choice.metric], s=200, facecolors="none", edgecolors="black",
               label=f"chosen: {choice.latents} latents")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("forward FLOPs per sample")
    ax.set_ylabel(search.metric)
    ax.set_title(f"tune latents {Path(search.recipe).stem}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


@register_command("tune", "latents", help="search the smallest num_latents within a tolerance of the best")
class TuneLatents:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("recipe", help="recipe name or YAML file")
        parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                            help="recipe overrides applied to every run")  # fmt: skip
        parser.add_argument("--out", type=Path, help="output directory (default: runs/tune-RECIPE)")
        parser.add_argument("--latents", help="comma-separated ladder (default: geometric --min … --max)")
        parser.add_argument("--min", type=int, default=8, help="smallest latent count (default: 8)")
        parser.add_argument("--max", type=int, default=128, help="largest latent count (default: 128)")
        parser.add_argument("--factor", type=int, default=2, help="ladder ratio (default: 2)")
        parser.add_argument("--steps", type=int, help="steps of the last rung (default: the recipe's train.steps)")
        parser.add_argument("--rungs", type=int, default=3, help="successive-halving rungs (default: 3)")
        parser.add_argument("--eta", type=int, default=2, help="keep 1/eta per rung, eta× the steps (default: 2)")
        parser.add_argument("--metric", help="eval metric (default: the recipe's train.best_metric)")
        parser.add_argument("--mode", choices=("min", "max"), help="default: the recipe's train.best_mode")
        parser.add_argument("--tolerance", type=float, default=0.01,
                            help="absolute slack from the best metric (default: 0.01)")  # fmt: skip
        parser.add_argument("--in-process", action="store_true",
                            help="train in this process (no start-up per run; memory: this process' peak)")  # fmt: skip

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from torchperceiver.training import recipe

        rec = recipe.load(args.recipe, args.set)
        ladder = _ladder(args)
        search = Search(
            recipe=args.recipe,
            overrides=tuple(args.set),
            ladder=ladder,
            steps=args.steps or rec.train.steps,
            rungs=args.rungs,
            eta=args.eta,
            metric=args.metric or rec.train.best_metric,
            mode=args.mode or rec.train.best_mode,
            tolerance=args.tolerance,
        )
        out = args.out or Path("runs") / f"tune-{rec.name}"
        runner = in_process_run if args.in_process else train_run
        tuner = Tuner(search, out, say=lambda text: print(text, flush=True), runner=runner)
        choice = tuner.run()
        paths = write_outputs(search, choice, tuner.results, out)
        print(
            f"chosen: num_latents={choice.latents} ({search.metric} {choice.metric:.4f}, "
            f"{choice.flops_per_sample / 1e6:.2f} MFLOPs/sample) within {search.tolerance} of the best",
            flush=True,
        )
        for path in paths:
            print(f"wrote {path}", flush=True)
        return 0


def _ladder(args: argparse.Namespace) -> tuple[int, ...]:
    if args.latents is None:
        return geometric_ladder(args.min, args.max, args.factor)
    try:
        ladder = tuple(sorted({int(part) for part in args.latents.split(",") if part.strip()}))
    except ValueError as err:
        raise ValueError(f"--latents: expected comma-separated ints, got {args.latents!r}") from err
    return ladder
