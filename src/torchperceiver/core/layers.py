"""Pre-norm attention blocks (paper App. E.1): ``x = attn(LN(q), LN(kv)) [+ q]; x = x + MLP(LN(x))``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from torchperceiver.core.attention import MultiHeadAttention
from torchperceiver.core.validate import check_dataclass

Activation = Literal["gelu", "gelu_tanh"]
LAYER_NORM_EPS = 1e-5


@dataclass
class BlockSettings:
    """Settings every attention block of a model shares.

    ``activation``: the official JAX code uses the tanh approximation of GELU; HF uses exact erf.
    ``attention_dropout`` drops attention probabilities (HF's default 0.1); ``dropout`` drops the
    attention and MLP outputs. The paper uses no dropout.
    """

    activation: Activation = "gelu_tanh"
    attention_dropout: float = 0.0
    dropout: float = 0.0
    pad_head_dim: bool = True

    def __post_init__(self) -> None:
        check_dataclass(self, "block")


class MLP(nn.Module):
    def __init__(self, dim: int, widening_factor: int, settings: BlockSettings) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * widening_factor)
        self.act = nn.GELU(approximate="tanh" if settings.activation == "gelu_tanh" else "none")
        self.fc2 = nn.Linear(dim * widening_factor, dim)
        self.drop = nn.Dropout(settings.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.act(self.fc1(x))))


class CrossAttentionLayer(nn.Module):
    """Queries attend to a separate key/value array; separate LayerNorms on each side.

    ``qk_channels`` defaults to the key/value width (the official ``shape_for_attn='kv'``),
    ``v_channels`` to ``qk_channels``; the attention output is projected back to the query width.
    """

    def __init__(
        self,
        q_dim: int,
        kv_dim: int,
        *,
        num_heads: int,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        widening_factor: int = 1,
        query_residual: bool = True,
        settings: BlockSettings | None = None,
    ) -> None:
        super().__init__()
        settings = settings or BlockSettings()
        qk_channels = qk_channels or kv_dim
        self.query_residual = query_residual
        self.q_norm = nn.LayerNorm(q_dim, eps=LAYER_NORM_EPS)
        self.kv_norm = nn.LayerNorm(kv_dim, eps=LAYER_NORM_EPS)
        self.attn = MultiHeadAttention(
            q_dim,
            kv_dim,
            qk_channels=qk_channels,
            v_channels=v_channels or qk_channels,
            out_dim=q_dim,
            num_heads=num_heads,
            dropout=settings.attention_dropout,
            pad_head_dim=settings.pad_head_dim,
        )
        self.attn_drop = nn.Dropout(settings.dropout)
        self.mlp_norm = nn.LayerNorm(q_dim, eps=LAYER_NORM_EPS)
        self.mlp = MLP(q_dim, widening_factor, settings)

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        kv_mask: torch.Tensor | None = None,
        q_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.attn_drop(self.attn(self.q_norm(x_q), self.kv_norm(x_kv), kv_mask, q_mask))
        if self.query_residual:
            x = x + x_q
        return x + self.mlp(self.mlp_norm(x))


class SelfAttentionLayer(nn.Module):
    """A standard pre-norm Transformer layer over the latent array."""

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        qk_channels: int | None = None,
        v_channels: int | None = None,
        widening_factor: int = 1,
        settings: BlockSettings | None = None,
    ) -> None:
        super().__init__()
        settings = settings or BlockSettings()
        qk_channels = qk_channels or dim
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = MultiHeadAttention(
            dim,
            dim,
            qk_channels=qk_channels,
            v_channels=v_channels or qk_channels,
            out_dim=dim,
            num_heads=num_heads,
            dropout=settings.attention_dropout,
            pad_head_dim=settings.pad_head_dim,
        )
        self.attn_drop = nn.Dropout(settings.dropout)
        self.mlp_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = MLP(dim, widening_factor, settings)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        x = x + self.attn_drop(self.attn(h, h))
        return x + self.mlp(self.mlp_norm(x))
