"""Input validation that names the argument, the expected and the actual value.

Shape mistakes surface deep inside a matmul otherwise; these helpers turn them into a
one-line ``ValueError`` at the model boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def check_tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


def check_rank(name: str, value: torch.Tensor, rank: int, layout: str) -> None:
    if value.dim() != rank:
        raise ValueError(f"{name}: expected {rank} dims {layout}, got shape {tuple(value.shape)}")


def check_integer(name: str, value: torch.Tensor) -> None:
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise ValueError(f"{name}: expected an integer tensor, got dtype {value.dtype}")


def check_floating(name: str, value: torch.Tensor) -> None:
    if not value.dtype.is_floating_point:
        raise ValueError(f"{name}: expected a floating-point tensor, got dtype {value.dtype}")


def check_size(name: str, value: torch.Tensor, dim: int, expected: int, what: str) -> None:
    if value.shape[dim] != expected:
        raise ValueError(
            f"{name}: expected {what} = {expected} (dim {dim}), got {value.shape[dim]} in shape {tuple(value.shape)}"
        )


def check_mask(name: str, mask: torch.Tensor | None, shape: Sequence[int]) -> torch.Tensor | None:
    """A key-padding mask: ``[B, M]``, True (or 1) where a position is real."""
    if mask is None:
        return None
    check_tensor(name, mask)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(mask.shape)}")
    return mask.bool()


def check_range(name: str, value: torch.Tensor, low: int, high: int) -> None:
    """Every value in ``[low, high)``: a ``ValueError`` for CPU tensors, a device-side assert elsewhere.

    Reading ``min``/``max`` of an accelerator tensor on the host is a host-device sync on every call (the
    host waits for the queue to drain and kernel launches stop overlapping compute), so there the check
    is queued on the device instead and fails at a later sync. Skipped under ``torch.compile``.
    """
    if torch.compiler.is_compiling() or value.numel() == 0:
        return
    if value.device.type != "cpu":
        in_range = ((value >= low) & (value < high)).all()
        torch._assert_async(in_range, f"{name}: expected values in [{low}, {high})")
        return
    lo, hi = int(value.min()), int(value.max())
    if lo < low or hi >= high:
        raise ValueError(f"{name}: expected values in [{low}, {high}), got values in [{lo}, {hi}]")


def check_no_query_args(query_args: dict[str, Any], why: str) -> None:
    """Outputs that always decode everything refuse query arguments (``why`` says so in the error)."""
    if query_args:
        raise ValueError(f"query arguments: expected none ({why}), got {sorted(query_args)}")


def as_pair(name: str, value: Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` from any 2-sequence (YAML and JSON give lists)."""
    if len(value) != 2:
        raise ValueError(f"{name}: expected (height, width), got {tuple(value)!r}")
    return int(value[0]), int(value[1])


def as_triple(name: str, value: Sequence[int]) -> tuple[int, int, int]:
    """``(frames, height, width)`` from any 3-sequence."""
    if len(value) != 3:
        raise ValueError(f"{name}: expected (frames, height, width), got {tuple(value)!r}")
    return int(value[0]), int(value[1]), int(value[2])
