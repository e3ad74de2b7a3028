"""Multi-head attention with Perceiver's independent channel widths, on fused SDPA.

Perceiver attention projects queries/keys to ``qk_channels`` and values to ``v_channels``
independently of the input widths, and then to ``out_dim``. Odd per-head widths (261, 322, 704
channels with one head) keep fused kernels from running, so per-head widths are zero-padded to a
multiple of 8: extra zero channels add nothing to q·k, the scale keeps the true width, and the
padded value channels are sliced off, so the result is mathematically unchanged.

When a few queries attend to many keys (a class query to 512 latents, 512 latents to 50,176 pixels), most
of the work is projecting every key and value. Attention is linear in both projections, so the same result
comes from *folding* them into the queries and the average: with ``x' = [x, 1]``,
``q·(W_k x + b_k) = [W_kᵀ q, q·b_k]·x'`` and ``Σ p (W_v x + b_v) = W_v (Σ p x) + (Σ p) b_v``, i.e. attention
over the raw inputs. Each forward takes whichever way costs fewer multiply-adds at its shapes (a static
choice from the shapes: nothing data-dependent).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HEAD_DIM_MULTIPLE = 8


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class MultiHeadAttention(nn.Module):
    """``softmax(q kᵀ / sqrt(d_qk)) v`` over ``num_heads`` heads, then a linear map to ``out_dim``."""

    def __init__(
        self,
        q_dim: int,
        kv_dim: int,
        *,
        qk_channels: int,
        v_channels: int,
        out_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        pad_head_dim: bool = True,
    ) -> None:
        super().__init__()
        for name, channels in (("qk_channels", qk_channels), ("v_channels", v_channels)):
            if channels % num_heads:
                raise ValueError(f"{name}: expected a multiple of num_heads={num_heads}, got {channels}")
        self.num_heads = num_heads
        self.qk_head_dim = qk_channels // num_heads
        self.v_head_dim = v_channels // num_heads
        multiple = HEAD_DIM_MULTIPLE if pad_head_dim else 1
        self.qk_pad = _round_up(self.qk_head_dim, multiple) - self.qk_head_dim
        self.v_pad = _round_up(self.v_head_dim, multiple) - self.v_head_dim
        self.dropout = dropout
        self.fold_pad = _round_up(kv_dim + 1, multiple) - kv_dim  # folded width: x, the constant 1, zeros
        #: Allow folding the key/value projections into the queries where that is cheaper (see the module
        #: docstring); False always projects (the benchmarks count HF's work that way).
        self.fold = True
        self.query = nn.Linear(q_dim, qk_channels)
        self.key = nn.Linear(kv_dim, qk_channels)
        self.value = nn.Linear(kv_dim, v_channels)
        self.out = nn.Linear(v_channels, out_dim)

    def _heads(self, x: torch.Tensor, proj: nn.Linear, head_dim: int, pad: int) -> torch.Tensor:
        """Project ``[B, T, C]`` to ``[B, H, T, head_dim + pad]`` (padding via the weights)."""
        weight: torch.Tensor = proj.weight
        bias: torch.Tensor = proj.bias
        if pad:
            weight = F.pad(weight.view(self.num_heads, head_dim, -1), (0, 0, 0, pad)).flatten(0, 1)
            bias = F.pad(bias.view(self.num_heads, head_dim), (0, pad)).flatten()
        y = F.linear(x, weight, bias)
        return y.unflatten(-1, (self.num_heads, head_dim + pad)).transpose(1, 2)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        kv_mask: torch.Tensor | None = None,
        q_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x_q [B, O, q_dim]``, ``x_kv [B, M, kv_dim]``, masks ``kv_mask [B, M]``, ``q_mask [B, O]`` (True = valid)
        → ``[B, O, out_dim]``.

        As in the official ``attend``, a query row with no valid key (all keys masked, or the query itself
        masked) gets zeros before the output projection instead of an average over all keys.
        """
        folds = self._folds(x_q, x_kv)
        q = self._heads(x_q, self.query, self.qk_head_dim, 0 if folds else self.qk_pad)
        bias = None
        if kv_mask is not None:
            # Additive and finite (not -inf), so a fully masked row gives no NaN; it is zeroed below.
            bias = torch.zeros(kv_mask.shape, dtype=q.dtype, device=q.device)
            bias = bias.masked_fill(~kv_mask, torch.finfo(q.dtype).min)[:, None, None, :]
        o = self._attend_folded(q, x_kv, bias) if folds else self._attend_projected(q, x_kv, bias)
        o = o.transpose(1, 2).flatten(2)
        valid = _valid_rows(kv_mask, q_mask)
        if valid is not None:
            o = o.masked_fill(~valid, 0.0)
        return self.out(o)

    def _folds(self, x_q: torch.Tensor, x_kv: torch.Tensor) -> bool:
        """Fold when that costs fewer multiply-adds per batch element (the query projection and output map,
        the same either way, left out)."""
        if not self.fold:
            return False
        num_q, num_kv, kv_dim = x_q.shape[-2], x_kv.shape[-2], x_kv.shape[-1]
        qk = self.num_heads * (self.qk_head_dim + self.qk_pad)
        v = self.num_heads * (self.v_head_dim + self.v_pad)
        projected = num_kv * kv_dim * (qk + v) + num_q * num_kv * (qk + v)
        folded_width = kv_dim + self.fold_pad
        folded = num_q * kv_dim * (qk + v) + 2 * self.num_heads * num_q * num_kv * folded_width
        return folded < projected

    def _sdpa(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.dropout if self.training else 0.0,
            scale=1.0 / math.sqrt(self.qk_head_dim),
        )

    def _attend_projected(self, q: torch.Tensor, x_kv: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """The usual way: project every key and value. ``q [B, H, O, qk_head + pad]`` → ``[B, H, O, v_head]``."""
        k = self._heads(x_kv, self.key, self.qk_head_dim, self.qk_pad)
        v = self._heads(x_kv, self.value, self.v_head_dim, self.v_pad)
        return self._sdpa(q, k, v, bias)[..., : self.v_head_dim]

    def _attend_folded(self, q: torch.Tensor, x_kv: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """Attend in the key/value input space: ``[W_kᵀ q, q·b_k]`` against ``[x, 1]``, then ``W_v`` and ``b_v``
        on the average. ``q [B, H, O, qk_head]`` (unpadded) → ``[B, H, O, v_head]``."""
        heads, kv_dim = self.num_heads, x_kv.shape[-1]
        zeros = self.fold_pad - 1
        # einsum keeps the weights unbatched: matmul would broadcast them over the batch, and their
        # gradients would then be B outer products summed afterwards (K = 1 matmuls, slow on a CPU).
        q_x = torch.einsum("bhod,hdk->bhok", q, self.key.weight.view(heads, self.qk_head_dim, kv_dim))
        q_1 = (q * self.key.bias.view(heads, 1, self.qk_head_dim)).sum(-1, keepdim=True).to(q_x.dtype)
        q = torch.cat([q_x, q_1, q_x.new_zeros(*q_x.shape[:-1], zeros)], dim=-1)
        x = x_kv.to(q.dtype)[:, None]  # q is bf16 under autocast
        x = torch.cat([x, x.new_ones(*x.shape[:-1], 1), x.new_zeros(*x.shape[:-1], zeros)], dim=-1)
        x = x.expand(-1, heads, -1, -1)
        mean = self._sdpa(q, x, x, bias)
        mean_x, mean_1 = mean[..., :kv_dim], mean[..., kv_dim : kv_dim + 1]  # Σ p x and Σ p
        w_v = self.value.weight.view(heads, self.v_head_dim, kv_dim)
        return torch.einsum("bhok,hvk->bhov", mean_x, w_v) + mean_1 * self.value.bias.view(heads, 1, self.v_head_dim)


def _valid_rows(kv_mask: torch.Tensor | None, q_mask: torch.Tensor | None) -> torch.Tensor | None:
    """``[B, O | 1, 1]``: rows that attend to at least one valid key (None: all of them)."""
    valid = None if kv_mask is None else kv_mask.any(dim=-1)[:, None, None]
    if q_mask is not None:
        valid = q_mask[:, :, None] if valid is None else valid & q_mask[:, :, None]
    return valid
