"""Training curves from ``metrics.jsonl`` as one PNG: a panel per metric, train and eval together.

Metric names are ``split/name``. A name ``prefix_metric`` whose ``metric`` has its own panel (e.g.
``eval/unigram_loss`` beside ``loss``, ``eval/context_free_accuracy`` beside ``accuracy``) is a baseline: drawn
dashed in that panel.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from torchperceiver.training.logging import read_metrics

CURVES_FILE = "curves.png"


def series(records: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """``name → (steps, values)`` for every numeric metric in the records."""
    out: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for record in records:
        for key, value in record.items():
            if "/" in key and isinstance(value, (int, float)) and math.isfinite(value):
                out[key][0].append(record["step"])
                out[key][1].append(value)
    return dict(out)


def panels(names: list[str]) -> dict[str, list[str]]:
    """Group series names into panels: ``metric → [series…]``, baselines with their metric."""
    metrics = {name.split("/", 1)[1] for name in names}
    grouped: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        metric = name.split("/", 1)[1]
        grouped[_baseline_of(metric, metrics) or metric].append(name)
    return dict(grouped)


def _baseline_of(metric: str, metrics: set[str]) -> str | None:
    """The longest ``_``-suffix of ``metric`` that is a metric itself (``context_free_accuracy`` → ``accuracy``)."""
    parts = metric.split("_")
    return next((base for i in range(1, len(parts)) if (base := "_".join(parts[i:])) in metrics), None)


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the curves of ``run_dir`` to ``out`` (default ``run_dir/curves.png``); returns the path."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or GUI state

    run_dir = Path(run_dir)
    data = series(read_metrics(run_dir))
    if not data:
        raise ValueError(f"run directory: expected metrics in {run_dir}/metrics.jsonl, found none")
    groups = panels(list(data))
    cols = min(3, len(groups))
    rows = -(-len(groups) // cols)
    fig = Figure(figsize=(5 * cols, 3.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (metric, names) in zip(axes.flat, groups.items(), strict=False):
        for name in names:
            steps, values = data[name]
            baseline = name.split("/", 1)[1] != metric
            ax.plot(steps, values, "--" if baseline else "-", marker="" if len(steps) > 30 else ".", label=name)
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = Path(out) if out is not None else run_dir / CURVES_FILE
    fig.savefig(out, dpi=110)
    return out
