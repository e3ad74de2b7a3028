"""The training loop: any task, one process or many, resumable to the bit.

The trainer knows the task protocol only (``tasks/base.py``): the task builds the model, supplies
datasets and turns a batch into loss and metric sums. Everything else — precision, accumulation,
clipping, the optimizer and schedule, evaluation, checkpoints, logging, signals — lives here once.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.utils.data import DataLoader

from torchperceiver.core.validate import check_finite_floats
from torchperceiver.training import checkpoint, distributed, lock
from torchperceiver.training.compile import compile_model
from torchperceiver.training.distributed import Strategy
from torchperceiver.training.logging import MetricsLogger, Progress, format_metrics
from torchperceiver.training.metrics import MetricSums
from torchperceiver.training.optim import FUSED_ADAMW_DEVICES, OptimConfig, build_optimizer
from torchperceiver.training.sampler import BatchLayout, EvalSampler, StepSampler
from torchperceiver.training.schedule import build_schedule
from torchperceiver.training.task import Batch, Task

Precision = Literal["fp32", "bf16", "fp16"]
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainConfig:
    """``batch_size`` is global: samples per optimizer step over all ranks and micro-batches.

    ``micro_batch_size`` samples go through one forward on one rank (default: ``batch_size / ranks``);
    the rest is gradient accumulation. Intervals count optimizer steps. ``threads`` sets PyTorch's
    CPU threads per process (None: its default); one thread suits tiny models on a busy CPU.
    ``flush_denormal``: on a CPU, treat subnormal floats (magnitudes below 1.2e-38) as zero. x86 cores compute
    with them tens of times slower, and training does make them: a LAMB run of ``mlm-tiny`` fell from 1,045 to
    650 samples/s without the flush. Set for the thread that calls ``fit``, during ``fit`` only: that is all
    of a one-thread run (``threads: 1``); PyTorch's intra-op worker threads keep their own setting.
    ``restarts``: steps where a new schedule cycle begins (written by ``--extend``; see ``schedule.py``).
    ``dist_timeout_s``: how long a rank waits for its peers in a collective before it fails.
    """

    steps: int = 1000
    batch_size: int = 32
    micro_batch_size: int | None = None
    precision: Precision = "fp32"
    clip_grad_norm: float | None = 1.0
    log_every: int = 10
    eval_every: int = 100
    eval_batches: int | None = None
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    best_metric: str = "eval/loss"
    best_mode: Literal["min", "max"] = "min"
    seed: int = 0
    device: str = "auto"
    distributed: Strategy = "ddp"
    num_workers: int = 0
    threads: int | None = None
    flush_denormal: bool = True
    progress: bool = True
    tensorboard: bool = True
    restarts: tuple[int, ...] = ()
    dist_timeout_s: int = 600
    compile: bool = False  # torch.compile the model in place (training/compile.py)

    def __post_init__(self) -> None:
        check_finite_floats(self, "train")
        positive = ["steps", "batch_size", "log_every", "eval_every", "checkpoint_every", "keep_checkpoints"]
        positive += ["dist_timeout_s"]
        optional_positive = ["micro_batch_size", "eval_batches", "clip_grad_norm", "threads"]
        for name in positive + optional_positive:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"train.{name}: expected a positive number, got {value!r}")
        for name in ("seed", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name}: expected >= 0, got {getattr(self, name)!r}")


class Diverged(RuntimeError):
    """The loss, the gradients or the weights stopped being finite; nothing after ``good`` was saved."""

    def __init__(self, what: str, step: int, good: Path | None) -> None:
        where = f"the last good checkpoint is {good}" if good else "no checkpoint was written"
        super().__init__(
            f"training diverged: {what} at step {step}; {where}. Lower optim.lr, raise optim.warmup_steps or set "
            "train.clip_grad_norm"
        )
        self.step, self.good = step, good


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; the run saved ``checkpoint`` and stopped."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; saved {checkpoint}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


@dataclass
class FitResult:
    step: int
    metrics: dict[str, float]
    checkpoint: Path
    demo: str | None
    artefacts: list[Path]


class Trainer:
    """Train ``task`` with ``optim`` and ``cfg``, writing metrics and checkpoints to ``run_dir``.

    Under torchrun every process builds its own Trainer; the process group starts here.
    """

    def __init__(self, task: Task, optim: OptimConfig, cfg: TrainConfig, run_dir: str | Path) -> None:
        self.task, self.optim_cfg, self.cfg, self.run_dir = task, optim, cfg, Path(run_dir)
        check_finite_floats(optim, "optim")
        self.info = distributed.setup(cfg.device, cfg.dist_timeout_s)
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.layout = BatchLayout.create(cfg.batch_size, cfg.micro_batch_size, self.info.world_size)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank (FSDP2 does not broadcast)
        self.model = task.build_model().to(self.info.device)
        if cfg.compile:
            compile_model(self.model)
        self.wrapped = distributed.wrap(self.model, self.info, cfg.distributed)
        self.optimizer = build_optimizer(self.wrapped, optim, fused=self.info.device.type in FUSED_ADAMW_DEVICES)
        self.scheduler = build_schedule(self.optimizer, optim, cfg.steps, cfg.restarts)
        self.scaler = torch.amp.GradScaler(self.info.device.type, enabled=cfg.precision == "fp16")
        self.train_sums = MetricSums(self.info.device)
        self.step = 0
        self.best: float | None = None
        self.last_checkpoint: Path | None = None
        self.resumed = False
        self._signal: int | None = None
        # Device-side: the first step whose loss or gradient norm was not finite (-1: none). Read only at
        # log/eval/checkpoint boundaries, so the hot path never waits for the device.
        self._first_bad = torch.full((), -1, dtype=torch.long, device=self.info.device)
        self._bad_what = torch.zeros((), dtype=torch.long, device=self.info.device)
        self._seed_rngs(cfg.seed + 1 + self.info.rank)

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self, resume: str | Path | None = None) -> FitResult:
        """Train to ``cfg.steps`` (from ``resume``, a run or checkpoint directory, if given).

        Raises ``Diverged`` when the loss, gradients or weights stop being finite (checked at log, eval
        and checkpoint steps), ``Interrupted`` after SIGINT/SIGTERM, ``RunLocked`` if another process holds
        ``run_dir``.
        """
        with contextlib.ExitStack() as stack:
            if self._main:
                stack.enter_context(lock.hold(self.run_dir))
            if self.cfg.flush_denormal and self.info.device.type == "cpu":
                stack.enter_context(flushed_subnormals())
            if resume is not None:
                self.restore(resume)
            return self._fit()

    def restore(self, resume: str | Path) -> Path:
        """Load the checkpoint of ``resume`` (a run directory or one of its checkpoints) after checking that it
        is intact and fits this recipe's model; nothing is changed on disk."""
        path = checkpoint.resolve(resume, "--resume")
        self._restore(path)
        self.resumed = True
        return path

    def check_best_metric(self) -> None:
        """Fail before training if ``train.best_metric`` is not a metric the task's evaluation reports.

        Evaluates one batch (RNG states are put back, so the run is the same as without the check).
        """
        if self.task.eval_dataset() is None:
            return
        rng = _rng_state(self.info.device)
        try:
            names = set(self.evaluate(max_batches=1))
        finally:
            _set_rng_state(rng, self.info.device)
        if self.cfg.best_metric not in names:
            raise ValueError(f"train.best_metric: expected one of {sorted(names)}, got {self.cfg.best_metric!r}")

    def _fit(self) -> FitResult:
        logger = (
            MetricsLogger(self.run_dir, self.cfg.tensorboard, self.step if self.resumed else None)
            if self._main
            else None
        )
        progress = Progress(self.cfg.steps, self.step, enabled=self._main and self.cfg.progress)
        batches = self._train_batches()
        metrics: dict[str, float] = {}
        last_log, last_time = self.step, time.perf_counter()
        try:
            with self._signals():
                while self.step < self.cfg.steps:
                    grad_norm = self._train_step([next(batches) for _ in range(self.layout.accumulation)])
                    self.train_sums.add("grad_norm", grad_norm, torch.ones((), device=grad_norm.device))
                    self.step += 1
                    progress.update()
                    final = self.step == self.cfg.steps
                    logged = final or self.step % self.cfg.log_every == 0
                    if self._boundary(final):
                        self._check_finite()
                    if logged:
                        metrics.update(self._log_train(logger, progress, self.step - last_log, last_time))
                    if self._stop_requested():
                        raise Interrupted(self._signal or signal.SIGTERM, self.step, self._save())
                    self._evaluate_and_save(logger, progress, metrics, final)
                    if logged:  # throughput counts training only, not evaluation or checkpoints
                        last_log, last_time = self.step, time.perf_counter()
        finally:
            progress.close()
            if logger is not None:
                logger.close()
        assert self.last_checkpoint is not None  # the final step always saves
        return FitResult(self.step, metrics, self.last_checkpoint, self.task.demo(self.model), self._finish())

    def _finish(self) -> list[Path]:
        """End-of-run artefacts of a task that writes them (``finish(model, run_dir)``), on the main rank."""
        finish = getattr(self.task, "finish", None)
        if finish is None or not self._main:
            return []
        return list(finish(self.model, self.run_dir))

    def _train_step(self, micro_batches: list[Batch]) -> torch.Tensor:
        """One optimizer update from the accumulated micro-batches; returns the pre-clip gradient norm."""
        count = torch.zeros((), device=self.info.device)
        for k, batch in enumerate(micro_batches):
            with distributed.grad_sync(self.wrapped, k == len(micro_batches) - 1):
                with self._autocast():
                    out = self.task.loss(self.wrapped, _to_device(batch, self.info.device))
                self.scaler.scale(out.loss).backward()
            count += out.count.detach()
            self.train_sums.add_output(out)
            self._flag_nonfinite(out.loss.detach(), 1)
        # Gradients hold the sum of per-unit losses; ranks' gradients are averaged. Dividing by the
        # global count makes the update independent of how the global batch was split.
        self.scaler.unscale_(self.optimizer)
        grads = [p.grad for p in self.wrapped.parameters() if p.grad is not None]
        scale = self.info.world_size / distributed.all_reduce_sum(count, self.info).clamp(min=1)
        torch._foreach_mul_(grads, scale)
        max_norm = self.cfg.clip_grad_norm or math.inf
        grad_norm = distributed.local_value(
            torch.nn.utils.clip_grad_norm_(self.wrapped.parameters(), max_norm, foreach=True)
        ).detach()
        if self.scaler.is_enabled():
            # fp16: the scaler skips a step with inf/nan gradients (its own host sync) and lowers the scale.
            # A skipped step does not advance the schedule; train/skip_rate is the share of skipped steps.
            scale_before = self.scaler.get_scale()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            skipped = self.scaler.get_scale() < scale_before
            one = torch.ones((), device=self.info.device)
            self.train_sums.add("skip_rate", one * skipped, one)
        else:
            self._flag_nonfinite(grad_norm, 2)
            self.optimizer.step()
            skipped = False
        self.optimizer.zero_grad(set_to_none=True)
        if not skipped:
            self.scheduler.step()
        return grad_norm

    def _log_train(
        self, logger: MetricsLogger | None, progress: Progress, steps: int, since: float
    ) -> dict[str, float]:
        values = {f"train/{k}": v for k, v in self.train_sums.reduce(self.info).items()}
        values["train/lr"] = float(self.scheduler.get_last_lr()[0])
        values["train/samples_per_s"] = steps * self.layout.global_batch / max(time.perf_counter() - since, 1e-9)
        if logger is not None:
            logger.log(self.step, values)
            progress.show({k: v for k, v in values.items() if k != "train/grad_norm"})
        return values

    def _evaluate_and_save(
        self, logger: MetricsLogger | None, progress: Progress, metrics: dict[str, float], final: bool
    ) -> None:
        improved = False
        if final or self.step % self.cfg.eval_every == 0:
            values = self.evaluate()
            bad = sorted(k for k, v in values.items() if not math.isfinite(v))
            if bad:
                raise Diverged(f"non-finite {', '.join(bad)}", self.step, self.last_checkpoint)
            if values:
                metrics.update(values)
                improved = self._improves(values)
                if logger is not None:
                    logger.log(self.step, values)
                    progress.write(f"step {self.step}: {format_metrics(values)}")
        if final or improved or self.step % self.cfg.checkpoint_every == 0:
            self._save(best=improved)

    @torch.no_grad()
    def evaluate(self, max_batches: int | None = None) -> dict[str, float]:
        """Metrics of the task's held-out set (every rank scores its share, each example once); {} without one."""
        dataset = self.task.eval_dataset()
        if dataset is None:
            return {}
        sampler = EvalSampler(len(dataset), self.layout.micro_batch, self.info.rank, self.info.world_size)  # type: ignore[arg-type]
        limit = min(x for x in (max_batches, self.cfg.eval_batches, len(sampler)) if x is not None)
        sums = MetricSums(self.info.device)
        self.model.eval()
        try:
            for i, batch in enumerate(self._loader(dataset, sampler)):
                if i >= limit:
                    break
                with self._autocast():
                    out = self.task.loss(self.model, _to_device(batch, self.info.device))
                if i < sampler.real_batches:  # a padding batch only keeps the ranks' forwards in step (FSDP)
                    sums.add_output(out)
        finally:
            self.model.train()
        values = {f"eval/{k}": v for k, v in sums.reduce(self.info).items()}
        summary = getattr(self.task, "eval_summary", None)  # metrics that are not means (F1, correlations)
        if callable(summary):
            values.update({f"eval/{k}": v for k, v in summary().items()})
        return values

    def _improves(self, values: dict[str, float]) -> bool:
        if self.cfg.best_metric not in values:
            raise ValueError(f"train.best_metric: expected one of {sorted(values)}, got {self.cfg.best_metric!r}")
        value = values[self.cfg.best_metric]
        better = self.best is None or (value < self.best if self.cfg.best_mode == "min" else value > self.best)
        if better:
            self.best = value
        return better

    # -- data -------------------------------------------------------------------------------------

    def _train_batches(self) -> Iterator[Batch]:
        sampler = StepSampler(self.layout, self.info.rank, self.step, self.cfg.steps)
        dataset = self.task.train_dataset()
        if _data_state(dataset) is not None and self.cfg.num_workers:
            raise ValueError(
                f"train.num_workers: expected 0 for a stateful training stream, got {self.cfg.num_workers}"
            )
        return iter(self._loader(dataset, sampler))

    def _loader(self, dataset: Any, batch_sampler: Any) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            num_workers=self.cfg.num_workers,
            pin_memory=self.info.device.type == "cuda",
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = _AUTOCAST_DTYPES.get(self.cfg.precision)
        return torch.autocast(self.info.device.type, dtype=dtype, enabled=dtype is not None)

    # -- checkpoints ------------------------------------------------------------------------------

    def _boundary(self, final: bool) -> bool:
        """Steps that sync with the host anyway: logging, evaluation, checkpoints."""
        every = (self.cfg.log_every, self.cfg.eval_every, self.cfg.checkpoint_every)
        return final or any(self.step % n == 0 for n in every)

    def _flag_nonfinite(self, value: torch.Tensor, what: int) -> None:
        """Remember (on the device) the first step where ``value`` is not finite; ``what``: 1 loss, 2 gradients."""
        bad = ~torch.isfinite(value.float()) & (self._first_bad < 0)
        self._first_bad = torch.where(bad, self.step + 1, self._first_bad)
        self._bad_what = torch.where(bad, what, self._bad_what)

    def _check_finite(self) -> None:
        """Raise ``Diverged`` if a step since the start was not finite (the ranks agree: max over ranks)."""
        flags = torch.stack([self._first_bad, self._bad_what]).float()
        if self.info.enabled:
            flags = torch.where(flags < 0, math.inf, flags)
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MIN)
            flags = torch.where(torch.isinf(flags), -1.0, flags)
        step, what = (int(v) for v in flags.tolist())
        if step >= 0:
            kind = {1: "non-finite loss", 2: "non-finite gradients"}.get(what, "non-finite values")
            raise Diverged(kind, step, self.last_checkpoint)

    def _weights_finite(self) -> bool:
        params = [p.detach() for p in self.wrapped.parameters()]
        local = [p.to_local() if hasattr(p, "to_local") else p for p in params]  # FSDP2: this rank's shard
        finite = torch.stack([torch.isfinite(p).all() for p in local]).all().float()
        if self.info.enabled:
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        return bool(finite.item())

    def _save(self, best: bool = False) -> Path:
        """Every rank takes part (state gathering); rank 0 writes. Non-finite weights are never saved."""
        self._check_finite()
        if not self._weights_finite():
            raise Diverged("non-finite weights", self.step, self.last_checkpoint)
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        model_state: dict[str, Any] = get_model_state_dict(self.wrapped, options=options)
        state = {
            "step": self.step,
            "samples_seen": self.step * self.layout.global_batch,
            "world_size": self.info.world_size,
            "optimizer": get_optimizer_state_dict(self.wrapped, self.optimizer, options=options),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "best": self.best,
            "train_sums": self.train_sums.state_dict(),
            "rng": distributed.all_gather_objects(_rng_state(self.info.device), self.info),
            "data": distributed.all_gather_objects(_data_state(self.task.train_dataset()), self.info),
        }
        path = None
        if self._main:
            path = checkpoint.save(
                self.run_dir / checkpoint.CHECKPOINTS,
                self.step,
                model_state,
                self.task.model_config(self.model),
                state,
                keep=self.cfg.keep_checkpoints,
                best=best,
            )
        self.last_checkpoint = distributed.broadcast_object(path, self.info)
        return self.last_checkpoint

    def _restore(self, path: Path) -> None:
        """Load ``path`` on rank 0 and broadcast it: other nodes need not see rank 0's disk."""
        model_state: dict[str, Any] = {}
        state: dict[str, Any] = {}
        error: str | None = None
        if self._main:
            try:
                model_state, state = checkpoint.load(path)
            except checkpoint.CheckpointError as err:
                error = str(err)
        error = distributed.broadcast_object(error, self.info)
        if error:
            raise checkpoint.CheckpointError(error)
        error = distributed.broadcast_object(
            _state_mismatch(self.model, model_state, path) if self._main else None, self.info
        )
        if error:
            raise checkpoint.CheckpointError(error)
        options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=self.info.enabled)
        try:
            set_model_state_dict(self.wrapped, model_state, options=options)
        except RuntimeError as err:
            raise checkpoint.CheckpointError(
                f"checkpoint {path}: weights do not fit this recipe's model ({err})"
            ) from err
        set_optimizer_state_dict(self.wrapped, self.optimizer, state.pop("optimizer", {}), options=options)
        state = distributed.broadcast_object(state, self.info)
        self.scheduler.load_state_dict(state["scheduler"])
        # The recipe's lr wins over the one saved in the scheduler (the same unless the user changed it).
        self.scheduler.base_lrs = [self.optim_cfg.lr for _ in self.scheduler.base_lrs]
        self.scaler.load_state_dict(state["scaler"])
        self.train_sums.load_state_dict(state["train_sums"])
        self.step, self.best, self.last_checkpoint = state["step"], state["best"], path
        if self.info.rank < len(state["rng"]):
            _set_rng_state(state["rng"][self.info.rank], self.info.device)
        data = state.get("data") or []
        if self.info.rank < len(data) and data[self.info.rank] is not None:
            self.task.train_dataset().load_state_dict(data[self.info.rank])  # type: ignore[attr-defined]

    # -- signals ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM: finish the step, save, stop. A second signal acts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: Any) -> None:
            self._signal = signum
            signal.signal(signum, previous[signum])

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
        try:
            yield
        finally:
            for number, old in previous.items():
                signal.signal(number, old)

    def _stop_requested(self) -> bool:
        """One process checks every step; ranks agree at log steps (the only steps that sync anyway)."""
        if not self.info.enabled:
            return self._signal is not None
        if self.step % self.cfg.log_every and self.step != self.cfg.steps:
            return False
        flag = torch.tensor([float(self._signal is not None)], device=self.info.device)
        return bool(distributed.all_reduce_sum(flag, self.info).item())

    @property
    def _main(self) -> bool:
        return self.info.is_main

    def _seed_rngs(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)


def flushing_subnormals() -> bool:
    """Whether this thread's float unit flushes subnormals to zero (PyTorch has a setter, no getter)."""
    return (torch.tensor(1e-30) * 1e-10).item() == 0.0  # 1e-40 is a float32 subnormal


@contextlib.contextmanager
def flushed_subnormals() -> Iterator[None]:
    """Flush subnormal floats to zero on this thread for the block, then restore what was there."""
    before = flushing_subnormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def _state_mismatch(model: torch.nn.Module, saved: dict[str, torch.Tensor], path: Path) -> str | None:
    """What differs between the recipe's model and the checkpoint's weights (names and shapes), or None."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in saved.items()}
    problems = [f"{k} missing" for k in sorted(set(expected) - set(got))]
    problems += [f"{k} not in the model" for k in sorted(set(got) - set(expected))]
    problems += [
        f"{k}: checkpoint {got[k]}, recipe {expected[k]}"
        for k in sorted(expected)
        if k in got and got[k] != expected[k]
    ]
    if not problems:
        return None
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return (
        f"checkpoint {path}: its weights do not fit the recipe's model: {'; '.join(problems[:3])}{more}; "
        "resume with the run's own model settings"
    )


def _to_device(batch: Any, device: torch.device) -> Any:
    """Tensors of a batch (nested dicts, lists and tuples too) on ``device``; other values as they are."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _data_state(dataset: Any) -> Any:
    """The position of a stateful training stream (a dataset with ``state_dict``, e.g. a streamed corpus whose
    items depend on what was read before), or None for the usual pure-function-of-the-index datasets."""
    state_dict = getattr(dataset, "state_dict", None)
    return state_dict() if callable(state_dict) else None


def _rng_state(device: torch.device) -> dict[str, Any]:
    kind, key, pos, has_gauss, gauss = cast(tuple, np.random.get_state(legacy=True))
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, key.tolist(), pos, has_gauss, gauss),
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(key, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
