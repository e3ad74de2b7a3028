"""The scores GLUE reports (accuracy, F1, Matthews correlation, Pearson/Spearman), from torchmetrics.

F1, Matthews and the correlations are not means over examples, so they cannot be logged as the per-batch
``(sum, count)`` pairs of ``TaskOutput``: a task updates a ``Scores`` during evaluation and the trainer asks
for the totals once at the end (the task's ``eval_summary``). Under DDP torchmetrics gathers the states of
every rank when computing.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

CLASSIFICATION_METRICS = ("accuracy", "f1", "matthews")
REGRESSION_METRICS = ("pearson", "spearman", "mse")


def check_metrics(names: tuple[str, ...] | list[str], num_classes: int | None, where: str) -> None:
    """``num_classes`` None: a regression task."""
    allowed = REGRESSION_METRICS if num_classes is None else CLASSIFICATION_METRICS
    wrong = [n for n in names if n not in allowed]
    if wrong or not names:
        raise ValueError(f"{where}: expected metrics among {list(allowed)}, got {list(names)}")


class Scores:
    """Accumulates predictions of one task; ``compute()`` → ``{metric: value}``, then ``reset()``.

    F1 is the positive class's for two classes (GLUE's MRPC and QQP) and the macro average otherwise.
    """

    def __init__(self, names: tuple[str, ...] | list[str], num_classes: int | None) -> None:
        import torchmetrics.classification as tmc
        import torchmetrics.regression as tmr

        check_metrics(names, num_classes, "metrics")
        self.num_classes = num_classes
        self.metrics: dict[str, Any] = {}
        for name in names:
            if num_classes is None:
                make = {"pearson": tmr.PearsonCorrCoef, "spearman": tmr.SpearmanCorrCoef, "mse": tmr.MeanSquaredError}
                with warnings.catch_warnings():  # Spearman keeps every prediction: by design (a rank statistic)
                    warnings.simplefilter("ignore", UserWarning)
                    self.metrics[name] = make[name]()
            elif name == "accuracy":
                self.metrics[name] = tmc.MulticlassAccuracy(num_classes, average="micro")
            elif name == "f1":
                binary = num_classes == 2
                self.metrics[name] = (
                    tmc.BinaryF1Score() if binary else tmc.MulticlassF1Score(num_classes, average="macro")
                )
            else:
                self.metrics[name] = tmc.MulticlassMatthewsCorrCoef(num_classes)

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        """``output``: logits ``[N, C]`` (classification) or predictions ``[N]`` (regression)."""
        if not len(target):
            return
        output = output.detach().float()
        prediction, target = (
            (output, target.float()) if self.num_classes is None else (output.argmax(-1), target.long())
        )
        for metric in self.metrics.values():
            metric.to(output.device).update(prediction, target)

    def compute(self) -> dict[str, float]:
        """Every metric over what was updated since the last reset ({} if nothing was), then reset.

        An undefined correlation (constant predictions or targets) is reported as 0, as scikit-learn reports
        Matthews' in that case: no correlation shown, and logs stay finite (the trainer stops on non-finite).
        """
        out = {}
        for name, metric in self.metrics.items():
            if getattr(metric, "_update_count", 1) > 0:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # torchmetrics warns on constant inputs
                    value = float(metric.compute())
                out[name] = value if math.isfinite(value) else 0.0
            metric.reset()
        return out
