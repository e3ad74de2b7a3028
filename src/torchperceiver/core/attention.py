"""Multi-head attention with Perceiver's independent channel widths, on fused SDPA.

Perceiver attention projects queries/keys to ``qk_channels`` and values to ``v_channels``
independently of the input widths, and then to ``out_dim``. Odd per-head widths (261, 322, 704
channels with one head) keep fused kernels from running, so per-head widths are zero-padded to a
multiple of 8: extra zero channels add nothing to q·k, the scale keeps the true width, and the
padded value channels are sliced off, so the result is mathematically unchanged.
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
        q = self._heads(x_q, self.query, self.qk_head_dim, self.qk_pad)
        k = self._heads(x_kv, self.key, self.qk_head_dim, self.qk_pad)
        v = self._heads(x_kv, self.value, self.v_head_dim, self.v_pad)
        bias = None
        if kv_mask is not None:
            # Additive and finite (not -inf), so a fully masked row gives no NaN; it is zeroed below.
            bias = torch.zeros(kv_mask.shape, dtype=q.dtype, device=q.device)
            bias = bias.masked_fill(~kv_mask, torch.finfo(q.dtype).min)[:, None, None, :]
        o = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.dropout if self.training else 0.0,
            scale=1.0 / math.sqrt(self.qk_head_dim),
        )
        if self.v_pad:
            o = o[..., : self.v_head_dim]
        o = o.transpose(1, 2).flatten(2)
        valid = _valid_rows(kv_mask, q_mask)
        if valid is not None:
            o = o.masked_fill(~valid, 0.0)
        return self.out(o)


def _valid_rows(kv_mask: torch.Tensor | None, q_mask: torch.Tensor | None) -> torch.Tensor | None:
    """``[B, O | 1, 1]``: rows that attend to at least one valid key (None: all of them)."""
    valid = None if kv_mask is None else kv_mask.any(dim=-1)[:, None, None]
    if q_mask is not None:
        valid = q_mask[:, :, None] if valid is None else valid & q_mask[:, :, None]
    return valid
