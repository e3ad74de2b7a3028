"""Text in (byte embeddings + learned positions, added) and masked-LM out (tied embedding)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.core.adapter import (
    Context,
    Encoded,
    InputAdapter,
    InputAdapterConfig,
    OutputAdapter,
    OutputAdapterConfig,
)
from torchperceiver.core.checks import (
    check_integer,
    check_mask,
    check_no_query_args,
    check_range,
    check_rank,
    check_tensor,
)
from torchperceiver.core.position import LearnedPositions
from torchperceiver.tokenizer import BYTE_OFFSET


@dataclass(frozen=True)
class TextContext(Context):
    """The input's length and the token embedding (a masked-LM head ties its output weights to it)."""

    seq_len: int
    token_embedding: torch.Tensor


@dataclass
class TextInputConfig(InputAdapterConfig):
    kind = "text"
    context_type: ClassVar[type[Context]] = TextContext
    vocab_size: int = 262
    max_seq_len: int = 2048
    embed_dim: int = 768

    def build(self) -> TextInput:
        return TextInput(self)


class TextInput(InputAdapter):
    """``input_ids [B, L]`` → token embedding + position embedding ``[B, L, embed_dim]``."""

    def __init__(self, cfg: TextInputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.position_embedding = LearnedPositions(cfg.max_seq_len, cfg.embed_dim)
        nn.init.trunc_normal_(self.token_embedding.weight, std=0.02)

    @property
    def num_channels(self) -> int:
        return self.cfg.embed_dim

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Encoded:
        check_tensor("input_ids", input_ids)
        check_rank("input_ids", input_ids, 2, "[batch, seq_len]")
        check_integer("input_ids", input_ids)
        batch, seq_len = input_ids.shape
        if seq_len > self.cfg.max_seq_len:
            raise ValueError(f"input_ids: expected seq_len <= max_seq_len={self.cfg.max_seq_len}, got {seq_len}")
        check_range("input_ids", input_ids, 0, self.cfg.vocab_size)
        mask = check_mask("attention_mask", attention_mask, (batch, seq_len))
        x = self.token_embedding(input_ids) + self.position_embedding(seq_len)
        return Encoded(x, mask, TextContext(batch, seq_len, self.token_embedding.weight))

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor]:
        """Random byte ids ``[batch_size, max_seq_len]`` (no special tokens)."""
        return (torch.randint(BYTE_OFFSET, self.cfg.vocab_size, (batch_size, self.cfg.max_seq_len)),)


@dataclass
class MaskedLMOutputConfig(OutputAdapterConfig):
    kind = "masked_lm"
    requires: ClassVar[type[Context]] = TextContext
    vocab_size: int = 262
    max_seq_len: int = 2048
    embed_dim: int = 768

    def build(self) -> MaskedLMOutput:
        return MaskedLMOutput(self)


class MaskedLMOutput(OutputAdapter):
    """One learned query per position; logits ``y · Eᵀ + b`` with E the input token embedding (tied).

    Only the ``L`` positions of the input are queried, so a short input decodes ``L`` rows, not 2048.
    """

    def __init__(self, cfg: MaskedLMOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.position_queries = LearnedPositions(cfg.max_seq_len, cfg.embed_dim)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    @property
    def query_channels(self) -> int:
        return self.cfg.embed_dim

    def queries(self, context: TextContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        check_no_query_args(query_args, "every position is decoded")
        return self.position_queries(context.seq_len).expand(context.batch_size, -1, -1)

    def forward(self, y: torch.Tensor, context: TextContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        return F.linear(y, context.token_embedding, self.bias)
