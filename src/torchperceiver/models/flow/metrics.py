"""Optical-flow metrics over valid pixels: EPE, n-pixel accuracy and KITTI's Fl-all outlier rate.

Every metric is returned as ``(sum, count)`` over valid pixels, so batches, tiles and ranks add up exactly
(the trainer's ``TaskOutput.metrics`` convention); divide for the value.
"""

from __future__ import annotations

import torch

from torchperceiver.core.checks import check_tensor

ACCURACY_THRESHOLDS = (1.0, 3.0, 5.0)
FLOW_METRICS = ("epe", *(f"acc_{n:g}px" for n in ACCURACY_THRESHOLDS), "fl_all")


def _check(flow: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    for name, value in (("flow", flow), ("target", target)):
        check_tensor(name, value)
        if value.dim() < 3 or value.shape[-3] != 2:
            raise ValueError(f"{name}: expected shape [..., 2, H, W], got {tuple(value.shape)}")
    if flow.shape != target.shape:
        raise ValueError(f"target: expected the shape of flow {tuple(flow.shape)}, got {tuple(target.shape)}")
    if valid is None:
        return torch.ones(flow.shape[:-3] + flow.shape[-2:], dtype=torch.bool, device=flow.device)
    expected = flow.shape[:-3] + flow.shape[-2:]
    if valid.shape != expected:
        raise ValueError(f"valid: expected shape {tuple(expected)}, got {tuple(valid.shape)}")
    return valid.bool()


def end_point_error(flow: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[..., H, W]``: the Euclidean distance between predicted and true flow vectors."""
    return torch.linalg.vector_norm(flow.float() - target.float(), dim=-3)


def flow_metrics(
    flow: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``epe``, ``acc_1px``/``acc_3px``/``acc_5px`` (fraction with EPE < n) and ``fl_all`` (fraction of
    outliers: EPE > 3 px and > 5 % of the true flow's length, KITTI 2015) as (sum, count) over valid pixels."""
    valid = _check(flow, target, valid)
    epe = end_point_error(flow, target)
    count = valid.sum().float()
    metrics = {"epe": ((epe * valid).sum(), count)}
    for n in ACCURACY_THRESHOLDS:
        metrics[f"acc_{n:g}px"] = (((epe < n) & valid).sum().float(), count)
    magnitude = torch.linalg.vector_norm(target.float(), dim=-3)
    outlier = (epe > 3.0) & (epe > 0.05 * magnitude)
    metrics["fl_all"] = ((outlier & valid).sum().float(), count)
    return metrics


def averages(metrics: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """``sum / count`` of each metric (NaN where nothing was valid)."""
    return {k: float(s / c) if float(c) > 0 else float("nan") for k, (s, c) in metrics.items()}
