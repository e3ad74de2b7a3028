"""Which samples each rank reads at each step: the data-loader position is just the step.

Step ``s`` reads samples ``[s·G, (s+1)·G)`` of the task's endless stream (G = global batch). Micro-batch
``k`` of rank ``r`` takes the ``(k·W + r)``-th slice of ``b`` of them (W ranks, ``b`` per micro-batch),
so any split of the global batch over ranks and accumulation steps reads the same samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torch.utils.data import Sampler


@dataclass(frozen=True)
class BatchLayout:
    """``global_batch = micro_batch · accumulation · world_size``."""

    global_batch: int
    micro_batch: int
    world_size: int

    @classmethod
    def create(cls, global_batch: int, micro_batch: int | None, world_size: int) -> BatchLayout:
        micro = micro_batch or global_batch // world_size
        if micro < 1 or global_batch % (micro * world_size):
            raise ValueError(
                f"train.batch_size: expected a multiple of micro_batch_size × world_size = {micro} × {world_size}, "
                f"got {global_batch}"
            )
        return cls(global_batch, micro, world_size)

    @property
    def accumulation(self) -> int:
        return self.global_batch // (self.micro_batch * self.world_size)


class StepSampler(Sampler[list[int]]):
    """This rank's micro-batches (lists of stream indices) for steps ``start_step … steps - 1``."""

    def __init__(self, layout: BatchLayout, rank: int, start_step: int, steps: int) -> None:
        self.layout, self.rank, self.start_step, self.steps = layout, rank, start_step, steps

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step) * self.layout.accumulation

    def __iter__(self) -> Iterator[list[int]]:
        g, b, w = self.layout.global_batch, self.layout.micro_batch, self.layout.world_size
        for step in range(self.start_step, self.steps):
            for k in range(self.layout.accumulation):
                first = step * g + (k * w + self.rank) * b
                yield list(range(first, first + b))


class EvalSampler(Sampler[list[int]]):
    """Rank ``r`` scores examples ``r, r + W, r + 2W, …``: every example once over all ranks.

    Every rank yields the same number of batches (FSDP needs the ranks' forwards in step); a rank whose
    share is a batch short yields a padding batch last, which the trainer runs but does not score
    (``real_batches`` is how many to score).
    """

    def __init__(self, size: int, batch_size: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, size, world_size))
        self.batch_size = batch_size
        self.real_batches = -(-len(self.indices) // batch_size)
        most = -(-size // world_size)  # the largest share
        self.num_batches = -(-most // batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        for i in range(0, len(self.indices), self.batch_size):
            yield self.indices[i : i + self.batch_size]
        for _ in range(self.num_batches - self.real_batches):
            yield [0]
