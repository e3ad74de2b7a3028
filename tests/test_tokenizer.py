"""The UTF-8 byte tokenizer uses the official ids and round-trips any text."""

import pytest
import torch

from torchperceiver.tokenizer import CLS, MASK, PAD, SEP, VOCAB_SIZE, ByteTokenizer


def test_official_ids():
    tok = ByteTokenizer()
    assert VOCAB_SIZE == 262 and (PAD, MASK, CLS, SEP) == (0, 3, 4, 5)
    assert tok.encode("A") == [ord("A") + 6]
    assert ByteTokenizer(wrap_cls_sep=True).encode("A") == [CLS, 71, SEP]


@pytest.mark.parametrize("text", ["hello world", "naïve café — 日本語 🙂", ""])
def test_round_trip(text):
    tok = ByteTokenizer(wrap_cls_sep=True)
    assert tok.decode(tok.encode(text)) == text


def test_parse_special_and_decode_special():
    tok = ByteTokenizer()
    ids = tok.encode("a [MASK][MASK] b", parse_special=True)
    assert ids.count(MASK) == 2 and len(ids) == 6
    assert tok.decode(ids, skip_special=False) == "a [MASK][MASK] b"
    assert tok.decode(ids) == "a  b"
    assert tok.encode("[MASK]") == [b + 6 for b in b"[MASK]"]


def test_batch_padding_and_truncation():
    tok = ByteTokenizer(wrap_cls_sep=True)
    batch = tok(["abc", "a"], max_length=4)
    assert batch["input_ids"].tolist() == [[CLS, 103, 104, SEP], [CLS, 103, SEP, PAD]]
    assert batch["attention_mask"].tolist() == [[True] * 4, [True, True, True, False]]
    padded = ByteTokenizer()(["ab"], max_length=5, pad_to_max_length=True)
    assert padded["input_ids"].shape == (1, 5) and padded["attention_mask"].sum() == 2
    assert padded["input_ids"].dtype == torch.long


def test_bad_input():
    with pytest.raises(ValueError, match="text: expected str, got int"):
        ByteTokenizer().encode(3)
    with pytest.raises(ValueError, match="max_length: expected a positive int, got 0"):
        ByteTokenizer()(["a"], max_length=0)
