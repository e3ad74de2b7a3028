"""One process per device: set up from torchrun's environment, wrap the model, reduce metrics.

Without torchrun (no ``WORLD_SIZE`` in the environment) everything here degrades to a single
process and no collective runs. Under ``torchrun`` the same command trains with DDP, or with FSDP2
(``fully_shard``: parameters, gradients and optimizer state sharded across ranks). NCCL on GPUs,
gloo on CPUs; multi-node runs use torchrun's rendezvous (docs/training.md).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

Strategy = Literal["ddp", "fsdp"]


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: this rank's GPU when there is one, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"train.device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device: expected a device this machine has, got {name!r} (no CUDA GPU)")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def setup(device: str, timeout_s: float = 600) -> DistInfo:
    """Join the process group that torchrun describes in the environment (if any).

    ``timeout_s`` bounds every collective: a rank whose peer died fails with an error after that long
    instead of waiting for ever (torchrun's agent then stops the other workers).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(
            "nccl" if dev.type == "cuda" else "gloo",
            device_id=dev if dev.type == "cuda" else None,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return DistInfo(rank, world_size, local_rank, dev)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, info: DistInfo, strategy: Strategy) -> nn.Module:
    """DDP, or FSDP2 sharding each child module then the root (a single process: the model itself)."""
    if not info.enabled:
        return model
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for module in _shard_units(model):
            fully_shard(module)
        return fully_shard(model)  # type: ignore[return-value]  # an FSDPModule is the model, resharded
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [info.device.index] if info.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def _shard_units(model: nn.Module) -> list[nn.Module]:
    """Attention layers are the natural FSDP units: each is all-gathered only while it runs."""
    from torchperceiver.core.layers import CrossAttentionLayer, SelfAttentionLayer

    return [m for m in model.modules() if isinstance(m, (CrossAttentionLayer, SelfAttentionLayer))]


@contextlib.contextmanager
def grad_sync(model: nn.Module, enabled: bool) -> Iterator[None]:
    """Skip the gradient all-reduce for all but the last micro-batch of an accumulated step."""
    if isinstance(model, nn.parallel.DistributedDataParallel) and not enabled:
        with model.no_sync():
            yield
        return
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        model.set_requires_gradient_sync(enabled)  # type: ignore[operator]
    yield


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def local_value(tensor: torch.Tensor) -> torch.Tensor:
    """A plain tensor from a (replicated) DTensor, e.g. FSDP2's total gradient norm."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
