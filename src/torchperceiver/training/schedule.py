"""The learning-rate schedule of a run, including runs lengthened with ``--extend``.

A run's schedule is ``optim.schedule`` over ``train.steps``. ``--extend`` does not stretch it (that would
change the rate of steps already taken and make resume inexact): it records the step where the old run
ended in ``train.restarts``, and the steps from there on follow a new cycle of the same schedule (warmup,
then decay) over the added steps. Every segment ``[start, end)`` gets ``lr_factor(step - start, end - start)``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

import torch

from torchperceiver.training.optim import OptimConfig, lr_factor


def segmented(cfg: OptimConfig, total_steps: int, restarts: Sequence[int] = ()) -> Callable[[int], float]:
    """``step → lr factor`` for a run of ``total_steps`` restarted at each of ``restarts``.

    A plain function (not an object): the scheduler's state then holds no config, so checkpoints stay
    loadable with ``weights_only``; the schedule is rebuilt from the recipe.
    """
    starts = [0, *sorted(r for r in restarts if 0 < r < total_steps)]

    def factor(step: int) -> float:
        i = bisect.bisect_right(starts, step) - 1
        end = starts[i + 1] if i + 1 < len(starts) else total_steps
        return lr_factor(step - starts[i], cfg, end - starts[i])

    return factor


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int, restarts: Sequence[int] = ()
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, segmented(cfg, total_steps, restarts))
