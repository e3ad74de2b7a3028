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

from torchperceiver.training import checkpoint, distributed
from torchperceiver.training.distributed import Strategy
from torchperceiver.training.logging import MetricsLogger, Progress, format_metrics
from torchperceiver.training.metrics import MetricSums
from torchperceiver.training.optim import OptimConfig, build_optimizer, build_scheduler
from torchperceiver.training.sampler import BatchLayout, EvalSampler, StepSampler
from torchperceiver.training.task import Batch, Task

Precision = Literal["fp32", "bf16", "fp16"]
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainConfig:
    """``batch_size`` is global: samples per optimizer step over all ranks and micro-batches.

    ``micro_batch_size`` samples go through one forward on one rank (default: ``batch_size / ranks``);
    the rest is gradient accumulation. Intervals count optimizer steps. ``threads`` sets PyTorch's
    CPU threads per process (None: its default); one thread suits tiny models on a busy CPU.
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
    progress: bool = True
    tensorboard: bool = True

    def __post_init__(self) -> None:
        positive = ["steps", "batch_size", "log_every", "eval_every", "checkpoint_every", "keep_checkpoints"]
        optional_positive = ["micro_batch_size", "eval_batches", "clip_grad_norm", "threads"]
        for name in positive + optional_positive:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"train.{name}: expected a positive number, got {value!r}")
        for name in ("seed", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name}: expected >= 0, got {getattr(self, name)!r}")


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
        self.info = distributed.setup(cfg.device)
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        self.layout = BatchLayout.create(cfg.batch_size, cfg.micro_batch_size, self.info.world_size)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank (FSDP2 does not broadcast)
        self.model = task.build_model().to(self.info.device)
        self.wrapped = distributed.wrap(self.model, self.info, cfg.distributed)
        self.optimizer = build_optimizer(self.wrapped, optim, fused=self.info.device.type == "cuda")
        self.scheduler = build_scheduler(self.optimizer, optim, cfg.steps)
        self.scaler = torch.amp.GradScaler(self.info.device.type, enabled=cfg.precision == "fp16")
        self.train_sums = MetricSums(self.info.device)
        self.step = 0
        self.best: float | None = None
        self.last_checkpoint: Path | None = None
        self._signal: int | None = None
        self._seed_rngs(cfg.seed + 1 + self.info.rank)

    # -- the loop ---------------------------------------------------------------------------------

    def fit(self, resume: str | Path | None = None) -> FitResult:
        if resume is not None:
            self._restore(checkpoint.resolve(resume, "--resume"))
        logger = (
            MetricsLogger(self.run_dir, self.cfg.tensorboard, self.step if resume else None) if self._main else None
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
        # Gradients hold the sum of per-unit losses; ranks' gradients are averaged. Dividing by the
        # global count makes the update independent of how the global batch was split.
        self.scaler.unscale_(self.optimizer)
        grads = [p.grad for p in self.wrapped.parameters() if p.grad is not None]
        scale = self.info.world_size / distributed.all_reduce_sum(count, self.info).clamp(min=1)
        torch._foreach_mul_(grads, scale)
        max_norm = self.cfg.clip_grad_norm or math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.wrapped.parameters(), max_norm, foreach=True)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return distributed.local_value(grad_norm).detach()

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
            if values:
                metrics.update(values)
                improved = self._improves(values)
                if logger is not None:
                    logger.log(self.step, values)
                    progress.write(f"step {self.step}: {format_metrics(values)}")
        if final or improved or self.step % self.cfg.checkpoint_every == 0:
            self._save(best=improved)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Metrics of the task's held-out set (every rank evaluates its share); {} without one."""
        dataset = self.task.eval_dataset()
        if dataset is None:
            return {}
        sampler = EvalSampler(len(dataset), self.layout.micro_batch, self.info.rank, self.info.world_size)  # type: ignore[arg-type]
        sums = MetricSums(self.info.device)
        self.model.eval()
        try:
            for i, batch in enumerate(self._loader(dataset, sampler)):
                if self.cfg.eval_batches is not None and i >= self.cfg.eval_batches:
                    break
                with self._autocast():
                    out = self.task.loss(self.model, _to_device(batch, self.info.device))
                sums.add_output(out)
        finally:
            self.model.train()
        return {f"eval/{k}": v for k, v in sums.reduce(self.info).items()}

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
        return iter(self._loader(self.task.train_dataset(), sampler))

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

    def _save(self, best: bool = False) -> Path:
        """Every rank takes part (state gathering); rank 0 writes."""
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
        self.scaler.load_state_dict(state["scaler"])
        self.train_sums.load_state_dict(state["train_sums"])
        self.step, self.best, self.last_checkpoint = state["step"], state["best"], path
        if self.info.rank < len(state["rng"]):
            _set_rng_state(state["rng"][self.info.rank], self.info.device)

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


def _to_device(batch: Any, device: torch.device) -> Any:
    """Tensors of a batch (nested dicts, lists and tuples too) on ``device``; other values as they are."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


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
