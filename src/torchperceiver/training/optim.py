"""Optimizers and learning-rate schedules: AdamW or LAMB (as the official code), no decay on biases and norms.

LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning", Algorithm 2) is what the paper
trains every task with. No well-kept library ships it without torchvision, so it lives here, on
``torch._foreach`` ops so one step is a handful of kernel launches, not one per parameter.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

Schedule = Literal["cosine", "constant_cosine", "constant"]


@dataclass
class OptimConfig:
    """``lr`` is the peak rate. ``schedule``: linear warmup over ``warmup_steps``, then
    ``cosine`` decay to ``min_lr_ratio · lr`` at the last step, ``constant_cosine`` (hold until
    ``decay_start`` of the run, then cosine; the paper's ImageNet schedule) or ``constant``."""

    name: Literal["lamb", "adamw"] = "lamb"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    weight_decay: float = 0.01
    schedule: Schedule = "cosine"
    warmup_steps: int = 0
    decay_start: float = 0.5
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        rules = [
            ("lr", self.lr > 0, "> 0"),
            ("betas", all(0 <= b < 1 for b in self.betas), "each in [0, 1)"),
            ("eps", self.eps > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("decay_start", 0 <= self.decay_start <= 1, "in [0, 1]"),
            ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1, "in [0, 1]"),
        ]
        for name, ok, expected in rules:
            if not ok:
                raise ValueError(f"optim.{name}: expected {expected}, got {getattr(self, name)!r}")


class Lamb(torch.optim.Optimizer):
    """LAMB as DeepMind's Perceiver trains with it (``train/utils.py``: optax ``scale_by_adam`` → weight decay
    → ``scale_by_trust_ratio`` → ``-lr``).

    ``u = m̂ / (sqrt(v̂) + eps) + wd · x``; ``x ← x - lr · (‖x‖ / ‖u‖) · u`` for every tensor (biases and norms
    too), the ratio 1 where either norm is zero. Weight decay is chosen by ``param_groups``. One step is a
    fixed number of ``torch._foreach`` kernels over all tensors, with no host synchronisation.
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params)
        return loss

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        return state

    def _update(self, group: dict, params: list[torch.Tensor]) -> None:
        beta1, beta2 = group["betas"]
        states = [self._state(p) for p in params]
        grads = [p.grad for p in params if p.grad is not None]
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1.0)
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        # Bias corrections 1 - beta**t from the step tensors (0-d, on the device): no host sync.
        correction1 = torch._foreach_pow(beta1, steps)
        correction2 = torch._foreach_pow(beta2, steps)
        for c in (correction1, correction2):
            torch._foreach_neg_(c)
            torch._foreach_add_(c, 1.0)
        denom = torch._foreach_div(v, correction2)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, group["eps"])
        update = torch._foreach_div(m, correction1)
        torch._foreach_div_(update, denom)
        if group["weight_decay"]:
            torch._foreach_add_(update, params, alpha=group["weight_decay"])
        torch._foreach_mul_(update, _trust_ratios(params, update))
        torch._foreach_add_(params, update, alpha=-group["lr"])


def _trust_ratios(
    params: list[torch.Tensor], update: list[torch.Tensor] | tuple[torch.Tensor, ...]
) -> list[torch.Tensor]:
    """``‖x‖ / ‖u‖`` per tensor as 0-d tensors, 1 where either norm is zero (optax ``scale_by_trust_ratio``)."""
    w = torch.stack(torch._foreach_norm(params))
    u = torch.stack(torch._foreach_norm(update))
    return list(torch.where((w > 0) & (u > 0), w / u, torch.ones_like(w)).unbind())


_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)
_LAYERS_WITH_BIAS = (nn.Linear, nn.modules.conv._ConvNd)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on everything except norm layers and the biases of linear and conv layers.

    The official rule by name (``train/utils.py``): skip the Haiku parameter ``b`` and every parameter of a
    module named ``layer_norm``/``batchnorm``. Embeddings, latents, position tables and the masked-LM output
    bias (named ``bias``, not ``b``) are decayed, as there.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            skip = isinstance(module, _NORMS) or (name == "bias" and isinstance(module, _LAYERS_WITH_BIAS))
            (no_decay if skip else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


#: Devices with PyTorch's fused AdamW kernel (one kernel for every parameter's update, no Python loop).
FUSED_ADAMW_DEVICES = ("cuda", "cpu")


def build_optimizer(model: nn.Module, cfg: OptimConfig, fused: bool = False) -> torch.optim.Optimizer:
    """``fused`` asks for PyTorch's fused AdamW kernel (see ``FUSED_ADAMW_DEVICES``); LAMB always runs on
    ``_foreach`` ops."""
    groups = param_groups(model, cfg.weight_decay)
    if cfg.name == "lamb":
        return Lamb(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=fused or None)


def lr_factor(step: int, cfg: OptimConfig, total_steps: int) -> float:
    """Multiplier of the peak lr for the update at ``step`` (0-based) of a ``total_steps`` run."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    start = cfg.warmup_steps
    if cfg.schedule == "constant_cosine":
        start = max(start, int(cfg.decay_start * total_steps))
        if step < start:
            return 1.0
    progress = min(1.0, (step - start) / max(1, total_steps - 1 - start))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, cfg=cfg, total_steps=total_steps))
