"""``torchperceiver``: train from a recipe; the model families add ``predict``, ``plot``, ``convert`` commands.

Bad input (a recipe key, a value, a path, a checkpoint) ends in one line ``error: …`` and exit code 2;
a run that diverges (non-finite loss, gradients or weights) stops with exit code 3 and saves nothing
non-finite; a run stopped by SIGINT/SIGTERM saves a checkpoint and exits with 128 + the signal number.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from torchperceiver.commands import register_command

if TYPE_CHECKING:
    from torchperceiver.training import FitResult, Trainer
    from torchperceiver.training.recipe import Recipe

RECIPE_FILE = "recipe.yaml"
RUNS_DIR = "runs"
#: Exit code of a run stopped because its loss, gradients or weights stopped being finite.
DIVERGED = 3


TRAIN_EXTRA = {"jsonargparse", "yaml", "tqdm", "tensorboard", "matplotlib"}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(_with_default_plot(list(sys.argv[1:] if argv is None else argv)))
        return args.func(args)
    except ModuleNotFoundError as err:
        if err.name not in TRAIN_EXTRA:
            raise
        return _fail(f"{err.name} is missing; install the training extra: pip install 'torchperceiver[train]'")
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
            raise
        return _fail(str(err) if err.errno == errno.ENOSPC else f"{err.strerror}: {err.filename}")


def _fail(message: str, code: int = 2) -> int:
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"error: {message}", file=sys.stderr)
    return code


def _with_default_plot(argv: list[str]) -> list[str]:
    """``torchperceiver plot RUN_DIR`` means ``plot curves RUN_DIR`` (the other plots are named)."""
    from torchperceiver.commands import COMMANDS

    if argv[:1] == ["plot"] and len(argv) > 1 and argv[1] not in COMMANDS["plot"] and argv[1] not in ("-h", "--help"):
        return ["plot", "curves", *argv[1:]]
    return argv


def _parser() -> argparse.ArgumentParser:
    from torchperceiver.commands import COMMANDS
    from torchperceiver.models import DEFAULT_RECIPE
    from torchperceiver.training import tune  # noqa: F401  (registers ``tune latents``)
    from torchperceiver.training.recipe import available

    parser = argparse.ArgumentParser(prog="torchperceiver", description="Perceiver IO: train, plot, predict.")
    commands = parser.add_subparsers(dest="command", required=True)

    recipes = "\n".join(f"  {name:<18} {text}" for name, text in available().items())
    train = commands.add_parser(
        "train",
        help="train a model from a recipe",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train from a recipe (a built-in name or a YAML file); any field can be overridden with --set.",
        epilog=f"recipes:\n{recipes}\n\nexamples:\n  torchperceiver train\n"
        f"  torchperceiver train {DEFAULT_RECIPE} --out runs/tiny --set optim.lr=2e-3 train.steps=300\n"
        "  torchperceiver train --resume runs/tiny\n"
        "  torchperceiver train --resume runs/tiny --extend --steps 2000\n"
        f"  torchrun --nproc_per_node 2 -m torchperceiver.cli train {DEFAULT_RECIPE}",
    )
    train.add_argument("recipe", nargs="?", help=f"recipe name or YAML file (default: {DEFAULT_RECIPE})")
    train.add_argument("--out", type=Path, help=f"run directory (default: {RUNS_DIR}/RECIPE)")
    train.add_argument("--steps", type=int, help="number of optimizer steps (same as --set train.steps=N)")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR (or from a checkpoint)")
    train.add_argument(
        "--extend",
        action="store_true",
        help="with --resume and --steps N: lengthen the run; the added steps follow a new schedule cycle",
    )
    train.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="override fields")
    train.set_defaults(func=_train)

    helps = {"predict": "run a trained model", "plot": "draw a run's curves or a model's insides", "convert":
             "convert weights from other implementations", "tune": "search a recipe setting"}  # fmt: skip
    for group, registry in COMMANDS.items():
        names = registry.names()
        if not names:
            continue
        sub = commands.add_parser(group, help=helps[group]).add_subparsers(dest=group, required=True)
        for name in names:
            entry = registry.get(name)
            command = sub.add_parser(name, help=entry.help, description=entry.help)
            entry.command.add_arguments(command)
            command.set_defaults(func=entry.command.run)
    return parser


def _train(args: argparse.Namespace) -> int:
    """Validate everything (recipe, lock, checkpoint, best metric) before the first write to the run directory."""
    from torchperceiver.atomic import atomic_path
    from torchperceiver.models import DEFAULT_RECIPE
    from torchperceiver.training import Diverged, Interrupted, Trainer, distributed, lock, recipe

    overrides = list(args.set) + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    if args.extend and args.resume is None:
        raise ValueError("--extend: expected --resume RUN as well (it lengthens an existing run)")
    if args.resume is not None:
        if args.recipe is not None:
            raise ValueError(f"recipe: expected no recipe with --resume (the run's own is used), got {args.recipe!r}")
        run_dir = _run_dir_of(args.resume)
        if args.out is not None and args.out.resolve() != run_dir.resolve():
            raise ValueError(f"--out: a resumed run writes to its own directory {run_dir}, got {args.out}")
        rec, note = _resumed_recipe(run_dir, overrides, args.extend)
    else:
        rec, note = recipe.load(args.recipe or DEFAULT_RECIPE, overrides), ""
        run_dir = args.out or Path(RUNS_DIR) / rec.name
        _check_new_run_dir(run_dir)
    task = rec.build_task()
    trainer: Trainer | None = None
    try:
        trainer = Trainer(task, rec.optim, rec.train, run_dir)
        main_rank = trainer.info.is_main
        if args.resume is None:
            trainer.check_best_metric()
        with contextlib.ExitStack() as held:
            if main_rank:
                held.enter_context(lock.hold(run_dir))
                if args.resume is None:
                    _check_new_run_dir(run_dir)  # again, under the lock: another process may have started
            if args.resume is not None:
                note += _restore(trainer, args.resume, run_dir)
                if trainer.step >= trainer.cfg.steps:
                    if main_rank:
                        _say(
                            f"{run_dir} already finished ({trainer.step} of {trainer.cfg.steps} steps): nothing to do; "
                            f"train longer with --resume {run_dir} --extend --steps N"
                        )
                    return 0
            if main_rank:
                with atomic_path(run_dir / RECIPE_FILE) as tmp:
                    tmp.write_text(rec.text)
                _say(_header(rec, trainer, run_dir, args.resume is not None) + note)
            try:
                result = trainer.fit()
            except Interrupted as stop:
                if main_rank:
                    _say(f"{stop}\nresume with: torchperceiver train --resume {run_dir}")
                return 128 + stop.signum
            except Diverged as err:
                return _fail(str(err), DIVERGED)
        if main_rank:
            _say(_summary(result, run_dir))
        return 0
    finally:
        # DDP's reducer holds the process group: freed after the group was destroyed, its gloo threads could wait
        # for ever on a peer that had already exited (seen as a rare hang at the end of a finished run).
        del trainer
        gc.collect()
        distributed.teardown()


def _check_new_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out: expected a directory, got {str(run_dir)!r}, which is a file")
    if (run_dir / RECIPE_FILE).exists():
        raise ValueError(
            f"--out: {run_dir} already holds a run; continue it with --resume {run_dir} or choose another --out"
        )


def _resumed_recipe(run_dir: Path, overrides: list[str], extend: bool) -> tuple[Recipe, str]:
    """The run's own recipe with ``overrides``; a change of ``train.steps`` only with ``--extend``."""
    from torchperceiver.training import recipe

    saved = recipe.load(run_dir / RECIPE_FILE)
    rec = recipe.load(run_dir / RECIPE_FILE, overrides)
    old, new = saved.train.steps, rec.train.steps
    if not extend:
        if new != old:
            raise ValueError(
                f"--steps: the run is made for {old} steps and --resume continues it exactly; to train longer, "
                f"add --extend (the added steps follow a new schedule cycle), got {new}"
            )
        return rec, ""
    if new <= old:
        raise ValueError(f"--extend: expected --steps above the run's {old}, got {new}")
    restarts = [*saved.train.restarts, old]
    rec = recipe.load(run_dir / RECIPE_FILE, [*overrides, f"train.restarts={restarts}"])
    optim = rec.optim
    return rec, (
        f"\nextending the run from {old} to {new} steps: steps {old}-{new - 1} follow a new {optim.schedule} "
        f"cycle (warmup {optim.warmup_steps}, peak lr {optim.lr:g}); train.restarts={restarts}"
    )


def _restore(trainer: Trainer, resume: Path, run_dir: Path) -> str:
    """Load the checkpoint (a run that never saved one starts over from step 0)."""
    from torchperceiver.training.checkpoint import CHECKPOINTS, LAST, MANIFEST

    if not (resume / MANIFEST).is_file() and not (run_dir / CHECKPOINTS / LAST).is_file():
        trainer.resumed = True  # drops the metrics the first try logged
        return f"\n{run_dir} has no checkpoint yet: starting from step 0"
    path = trainer.restore(resume)
    return f"\nresuming from {path} (step {trainer.step})"


def _run_dir_of(resume: Path) -> Path:
    """``--resume`` names a run directory or one of its checkpoints (``RUN/checkpoints/step-…``)."""
    from torchperceiver.training.checkpoint import MANIFEST

    run_dir = resume.parent.parent if (resume / MANIFEST).is_file() else resume
    if not (run_dir / RECIPE_FILE).is_file():
        raise ValueError(f"--resume: expected a run directory with {RECIPE_FILE}, got {str(resume)!r}")
    return run_dir


def _header(rec: Recipe, trainer: Trainer, run_dir: Path, resumed: bool) -> str:
    cfg, layout = trainer.cfg, trainer.layout
    params = sum(p.numel() for p in trainer.model.parameters())
    what = f"run {run_dir.name}" if resumed else f"recipe {rec.name}"
    return (
        f"{what}: task {rec.task}, {params / 1e6:.2f}M parameters, {cfg.steps} steps × batch "
        f"{layout.global_batch} ({layout.world_size} process(es) × {layout.micro_batch} × {layout.accumulation} "
        f"accumulation), {cfg.precision} on {trainer.info.device} → {run_dir}"
    )


def _summary(result: FitResult, run_dir: Path) -> str:
    from torchperceiver.training.logging import format_metrics

    lines = [f"done: step {result.step}, {format_metrics(result.metrics)}", f"checkpoint: {result.checkpoint}"]
    if result.demo:
        lines += ["example:", result.demo]
    lines += [f"wrote {path}" for path in result.artefacts]
    lines += [f"curves: torchperceiver plot {run_dir}"]
    return "\n".join(lines)


@register_command("plot", "curves", help="draw the training curves of a run as PNG (plot RUN_DIR)")
class PlotCurves:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run_dir", type=Path)
        parser.add_argument("--out", type=Path, help="PNG file (default: RUN_DIR/curves.png)")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from torchperceiver.training.plot import plot_run

        _say(f"wrote {plot_run(args.run_dir, args.out)}")
        return 0


def _say(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
