"""Metric sums kept on the device between log events: no host sync in the training hot path."""

from __future__ import annotations

import torch

from torchperceiver.training.distributed import DistInfo, all_reduce_sum
from torchperceiver.training.task import TaskOutput


class MetricSums:
    """``name → (sum, count)`` accumulated as device tensors; ``reduce`` is the only sync."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, name: str, total: torch.Tensor, count: torch.Tensor) -> None:
        pair = torch.stack([total.detach().float(), count.detach().float()])
        if name in self.sums:
            self.sums[name] += pair
        else:
            self.sums[name] = pair

    def add_output(self, out: TaskOutput) -> None:
        """A batch's loss and every metric it reports."""
        self.add("loss", out.loss, out.count)
        for name, (total, count) in out.metrics.items():
            self.add(name, total, count)

    def reduce(self, info: DistInfo) -> dict[str, float]:
        """Sum over ranks, then ``sum / count`` per name; clears the sums.

        Every rank must hold the same names in the same order (they run the same code).
        """
        if not self.sums:
            return {}
        names = list(self.sums)
        stacked = all_reduce_sum(torch.stack([self.sums[n] for n in names]), info).tolist()
        self.sums = {}
        return {
            name: total / count if count else float("nan") for name, (total, count) in zip(names, stacked, strict=True)
        }

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.cpu() for k, v in self.sums.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.sums = {k: v.to(self.device) for k, v in state.items()}
