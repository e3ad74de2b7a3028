"""UTF-8 byte tokenizer with the official Perceiver IO ids: ``id = byte + 6``.

No vocabulary to learn or ship: every string is its UTF-8 bytes, so any language and any text
round-trips. Ids 0-5 are the special tokens PAD, BOS, EOS, MASK, CLS, SEP.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

PAD, BOS, EOS, MASK, CLS, SEP = range(6)
SPECIAL_TOKENS = ("[PAD]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]")
BYTE_OFFSET = 6
VOCAB_SIZE = 256 + BYTE_OFFSET
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


class ByteTokenizer:
    """Encode text to byte ids and back; batch with padding and attention masks.

    ``wrap_cls_sep=True`` wraps each text as ``[CLS] … [SEP]`` the way HF's tokenizer does; the
    official colab does not wrap (positions then start at the first byte).
    """

    pad_id, bos_id, eos_id, mask_id, cls_id, sep_id = PAD, BOS, EOS, MASK, CLS, SEP
    vocab_size = VOCAB_SIZE

    def __init__(self, wrap_cls_sep: bool = False) -> None:
        self.wrap_cls_sep = wrap_cls_sep

    def encode(self, text: str, parse_special: bool = False) -> list[int]:
        """Byte ids of ``text``; with ``parse_special`` the literal strings ``[MASK]`` etc. become special ids."""
        if not isinstance(text, str):
            raise ValueError(f"text: expected str, got {type(text).__name__}")
        pieces = _SPECIAL_RE.split(text) if parse_special else [text]
        ids: list[int] = []
        for piece in pieces:
            if parse_special and piece in SPECIAL_TOKENS:
                ids.append(SPECIAL_TOKENS.index(piece))
            else:
                ids.extend(b + BYTE_OFFSET for b in piece.encode("utf-8"))
        return [CLS, *ids, SEP] if self.wrap_cls_sep else ids

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special: bool = True) -> str:
        """Text of ``ids``; invalid UTF-8 is replaced.

        ``skip_special``: as the official ``to_string``, drop special ids and decode the remaining bytes
        together (a character split by a mask comes back whole); else show them as ``[MASK]`` etc.
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if skip_special:  # the official ``to_string``: the bytes of every non-special id, decoded at once
            return bytes(i - BYTE_OFFSET for i in ids if i >= BYTE_OFFSET).decode("utf-8", errors="replace")
        out, run = [], bytearray()
        for i in ids:
            if i >= BYTE_OFFSET:
                run.append(i - BYTE_OFFSET)
                continue
            out.append(run.decode("utf-8", errors="replace"))
            run = bytearray()
            out.append(SPECIAL_TOKENS[i])
        out.append(run.decode("utf-8", errors="replace"))
        return "".join(out)

    def __call__(
        self,
        texts: str | Sequence[str],
        max_length: int | None = None,
        pad_to_max_length: bool = False,
        parse_special: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Batch ``texts`` → ``{"input_ids": [B, L] long, "attention_mask": [B, L] bool}``, right-padded with PAD.

        Texts longer than ``max_length`` are truncated (the final SEP is kept when wrapping).
        """
        if isinstance(texts, str):
            texts = [texts]
        encoded = [self.encode(t, parse_special) for t in texts]
        if max_length is not None:
            if max_length < 1:
                raise ValueError(f"max_length: expected a positive int, got {max_length}")
            encoded = [self._truncate(ids, max_length) for ids in encoded]
        width = max_length if (pad_to_max_length and max_length) else max(map(len, encoded), default=0)
        input_ids = torch.full((len(encoded), width), PAD, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.bool)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = True
        return {"input_ids": input_ids, "attention_mask": mask}

    def _truncate(self, ids: list[int], max_length: int) -> list[int]:
        if len(ids) <= max_length:
            return ids
        return [*ids[: max_length - 1], SEP] if self.wrap_cls_sep else ids[:max_length]
