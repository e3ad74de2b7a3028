"""Measuring one callable: wall time (A/B interleaved medians), peak memory, FLOPs, the chip's matmul peak.

Peak memory is read from the CUDA caching allocator on a GPU. On a CPU there is no allocator counter, so
it is the rise of the process's peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``)
during the call; that is only meaningful when glibc hands large blocks back to the OS, which
``CPU_MALLOC_ENV`` arranges (``compare`` and ``scaling`` re-exec themselves with it).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

# A fixed mmap threshold makes every block over 128 KiB its own mapping, returned to the OS on free,
# so the resident set follows the live tensors; one arena keeps per-thread caches from hiding memory.
CPU_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "1"}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_times(
    fns: dict[str, Callable[[], Any]], device: torch.device, repeats: int, inner: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each fn, A/B interleaved: every round runs all fns, in a rotated order,
    so a slow spell on a shared machine hits each of them alike."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            for _ in range(inner):
                fns[name]()
            synchronize(device)
            times[name].append((time.perf_counter() - start) / inner)
    return times


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_cpu_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def transient_peak_bytes(fn: Callable[[], Any], device: torch.device) -> int | None:
    """How far memory rises above its level before ``fn`` while ``fn`` runs (None where it cannot be read)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    if device.type != "cpu" or not _reset_cpu_peak():
        return None
    base = _proc_status_kib("VmRSS")
    fn()
    return max(0, _proc_status_kib("VmHWM") - base) * 1024


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    return tensor_bytes(v for state in optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor))


class _FlopCounter(TorchDispatchMode):
    """torch's FLOP formulas (2 per multiply-add) without ``FlopCounterMode``'s per-module tracking,
    which fails on modules run under ``no_grad``."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of the matmuls, convolutions and attention kernels that ``fn`` runs."""
    with _FlopCounter() as counter:
        fn()
    return counter.total


def matmul_probe(device: torch.device, dtype: torch.dtype) -> tuple[Callable[[], Any], int]:
    """A dense matmul and its FLOPs. Timed in every interleaved round beside the models, its best rate is the
    chip's peak under the same load: the denominator of "share of peak"."""
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    return (lambda: a @ b), 2 * n**3
