"""The scaling study's baseline: a BERT-style byte-level masked LM, every layer attending over all M bytes.

Built from torchperceiver's own pre-norm ``SelfAttentionLayer`` so the two models differ only in what the
paper compares: attention over the input (quadratic in M) versus a fixed latent array (linear in M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.core.layers import LAYER_NORM_EPS, SelfAttentionLayer
from torchperceiver.tokenizer import VOCAB_SIZE


class TransformerMLM(nn.Module):
    """``ids [B, M] -> logits [B, M, vocab]``: learned positions, ``num_layers`` pre-norm layers, tied logits."""

    def __init__(
        self, *, num_layers: int, max_seq_len: int, dim: int = 768, num_heads: int = 12, widening_factor: int = 4
    ) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB_SIZE, dim)
        self.position_embedding = nn.Parameter(torch.empty(max_seq_len, dim))
        self.layers = nn.ModuleList(
            SelfAttentionLayer(dim, num_heads=num_heads, widening_factor=widening_factor) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.bias = nn.Parameter(torch.zeros(VOCAB_SIZE))
        nn.init.trunc_normal_(self.token_embedding.weight, std=0.02)
        nn.init.trunc_normal_(self.position_embedding, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(ids) + self.position_embedding[: ids.shape[1]]
        for layer in self.layers:
            x = layer(x)
        return F.linear(self.norm(x), self.token_embedding.weight, self.bias)
