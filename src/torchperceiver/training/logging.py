"""Where metrics go: ``metrics.jsonl`` (one object per log event), TensorBoard, and a progress bar.

Only rank 0 logs. On resume the records after the checkpoint's step are dropped (from the JSONL file,
and from TensorBoard through ``purge_step``), so a killed-and-resumed run has one clean history.
"""

from __future__ import annotations

import errno
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from torchperceiver.atomic import atomic_path

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl``; a torn last line (a kill or a full disk while logging) is
    dropped with a warning, any other damage is a ``ValueError`` naming the file and line."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise ValueError(f"run directory: expected {METRICS_FILE} in {run_dir}, found none")
    return _parse(path)[0]


def _parse(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """``(records, their lines)``, the torn last line left out."""
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file ({err})") from err
    records, kept = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("expected an object with an integer step")
        except ValueError as err:
            if number == len(lines):
                warnings.warn(f"{path}: dropped a torn last line ({line[:40]!r}…)", TornLogWarning, stacklevel=3)
                break
            raise ValueError(f"{path}: line {number} is damaged ({err}); fix or delete that line") from err
        records.append(record)
        kept.append(line)
    return records, kept


class TornLogWarning(UserWarning):
    """``metrics.jsonl`` ended in half a line; it was dropped."""


class MetricsLogger:
    """Append ``{"step": s, "train/loss": …}`` records; mirror them to TensorBoard when asked."""

    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None) -> None:
        self.path = run_dir / METRICS_FILE
        if resume_step is not None and self.path.is_file():
            self._truncate_after(resume_step)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=purge)

    def log(self, step: int, values: dict[str, float]) -> None:
        record = {"step": step, "time": round(time.time(), 3), **values}
        try:
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise OSError(errno.ENOSPC, f"no space left writing {self.path}; free some space and resume") from err
            raise
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def _truncate_after(self, step: int) -> None:
        records, lines = _parse(self.path)
        kept = [line for record, line in zip(records, lines, strict=True) if record["step"] <= step]
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))


class Progress:
    """A tqdm bar over the optimizer steps, its postfix showing the latest logged values."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, initial=initial, disable=not enabled, unit="step", dynamic_ncols=True, file=sys.stderr
        )

    def update(self, steps: int = 1) -> None:
        self.bar.update(steps)

    def show(self, values: dict[str, float]) -> None:
        self.bar.set_postfix({k.split("/", 1)[-1]: _short(v) for k, v in values.items()}, refresh=False)

    def write(self, message: str) -> None:
        if self.bar.disable:
            print(message, file=sys.stderr)
        else:
            self.bar.write(message)

    def close(self) -> None:
        self.bar.close()


def _short(value: float) -> str:
    return f"{value:.4g}"


def format_metrics(values: dict[str, float]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in values.items())
