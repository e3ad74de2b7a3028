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
    check_size,
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
        if min(batch, seq_len) < 1:
            raise ValueError(
                f"input_ids: expected at least 1 sequence of at least 1 token, got shape {(batch, seq_len)}"
            )
        if seq_len > self.cfg.max_seq_len:
            raise ValueError(f"input_ids: expected seq_len <= max_seq_len={self.cfg.max_seq_len}, got {seq_len}")
        check_range("input_ids", input_ids, 0, self.cfg.vocab_size)
        mask = check_mask("attention_mask", attention_mask, (batch, seq_len))
        x = self.token_embedding(input_ids.long()) + self.position_embedding(seq_len)  # uint8/int16 ids too
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

    Only the ``L`` positions of the input are queried, so a short input decodes ``L`` rows, not 2048; with
    ``positions`` only those (e.g. the masked bytes a training loss reads: ~15 % of the decoder's work).
    """

    def __init__(self, cfg: MaskedLMOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.position_queries = LearnedPositions(cfg.max_seq_len, cfg.embed_dim)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    @property
    def query_channels(self) -> int:
        return self.cfg.embed_dim

    def queries(  # type: ignore[override]
        self, context: TextContext, positions: torch.Tensor | None = None, **query_args: Any
    ) -> torch.Tensor:
        """Every position's query ``[B, L, E]``, or with ``positions [B, K]`` (int) only theirs ``[B, K, E]``."""
        check_no_query_args(query_args, "the only query argument is positions")
        if positions is None:
            return self.position_queries(context.seq_len).expand(context.batch_size, -1, -1)
        check_positions(positions, context)
        return F.embedding(positions, self.position_queries())

    def forward(  # type: ignore[override]
        self, y: torch.Tensor, context: TextContext, positions: torch.Tensor | None = None, **query_args: Any
    ) -> torch.Tensor:
        """Logits ``[B, L, vocab]``, or ``[B, K, vocab]`` at ``positions``."""
        return F.linear(y, context.token_embedding, self.bias)


def check_positions(positions: torch.Tensor, context: TextContext) -> None:
    check_tensor("positions", positions)
    check_rank("positions", positions, 2, "[batch, num_positions]")
    check_integer("positions", positions)
    check_size("positions", positions, 0, context.batch_size, "batch size")
    check_range("positions", positions, 0, context.seq_len)


def labelled_positions(
    labels: torch.Tensor, ignore_index: int = -100, k: int | None = None, multiple_of: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(positions, labels)`` ``[B, K]`` of each row's labelled entries (in order), for ``positions=``.

    K is the most labels in any row (at least 1) rounded up to ``multiple_of`` (at most the row length: few
    distinct shapes for a compiled model), or ``k`` where the caller knows it (no row may have more). Shorter
    rows are filled with unlabelled positions whose label stays ``ignore_index``, so a loss that ignores it is
    unchanged. Without ``k``, reading K is a host-device sync on an accelerator (free on a CPU).
    """
    check_rank("labels", labels, 2, "[batch, seq_len]")
    labelled = labels != ignore_index
    if k is None:
        most = max(1, int(labelled.sum(dim=1).max()))
        k = min(-(-most // multiple_of) * multiple_of, labels.shape[1])
    positions = torch.argsort((~labelled).to(torch.uint8), dim=1, stable=True)[:, :k]
    return positions, labels.gather(1, positions)
