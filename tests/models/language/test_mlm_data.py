"""Corpus readers and the MLM sample stream: whole-word masking, 15%, determinism, clear errors."""

import json

import numpy as np
import pytest

from torchperceiver.models.language.corpus import embedded_corpus, read_corpus
from torchperceiver.models.language.masking import (
    IGNORE_INDEX,
    MaskedWindows,
    concatenate,
    hold_out,
    mask_words,
    word_ids,
)
from torchperceiver.tokenizer import MASK, SEP, ByteTokenizer

TEXT = "The quick  brown fox\tjumps over\nthe lazy dog. " * 3


def _ids(text: str) -> np.ndarray:
    return np.array(ByteTokenizer().encode(text), dtype=np.int16)


def test_word_ids_split_on_whitespace_and_special_tokens():
    ids = np.concatenate([_ids("ab  c\nd"), [SEP], _ids("ef")])
    assert word_ids(ids).tolist() == [0, 0, -1, -1, 1, -1, 2, -1, 3, 3]


def test_masking_hides_whole_words_only():
    ids = _ids(TEXT)
    words = word_ids(ids)
    for seed in range(20):
        inputs, labels = mask_words(ids, 0.15, np.random.default_rng(seed))
        masked = inputs == MASK
        assert np.array_equal(masked, labels != IGNORE_INDEX)
        assert np.array_equal(labels[masked], ids[masked])
        assert np.array_equal(inputs[~masked], ids[~masked])
        assert (words[masked] >= 0).all(), "whitespace is never masked"
        for w in np.unique(words[masked]):
            assert masked[words == w].all(), "a chosen word is masked in full"


def test_masking_rate_is_fifteen_percent_of_words():
    ids = _ids(TEXT * 10)
    num_words = word_ids(ids).max() + 1  # 270
    inputs, _ = mask_words(ids, 0.15, np.random.default_rng(0))
    chosen = np.unique(word_ids(ids)[inputs == MASK])
    assert len(chosen) == round(0.15 * num_words) == 40
    _, labels = mask_words(_ids("   word   "), 0.15, np.random.default_rng(0))
    assert (labels != IGNORE_INDEX).sum() == 4, "at least one word"


def test_concatenate_separates_documents():
    ids = concatenate([b"ab", b"c"])
    assert ids.tolist() == [ord("a") + 6, ord("b") + 6, SEP, ord("c") + 6]


def test_held_out_blocks_are_spread_over_the_corpus():
    ids = np.arange(1000, dtype=np.int16) + 10
    train, held = hold_out(ids, eval_fraction=0.25, block=50)
    assert held[held != SEP].tolist() == [v for b in (3, 7, 11, 15, 19) for v in range(b * 50 + 10, b * 50 + 60)]
    both = np.concatenate([train, held])
    assert sorted(both[both != SEP].tolist()) == ids.tolist()
    assert (held == SEP).sum() == 4 and (train == SEP).sum() == 14
    assert hold_out(ids, eval_fraction=0.0, block=50)[1].size == 0


def test_windows_are_a_pure_function_of_the_index():
    ids = concatenate([TEXT.encode() * 20])
    data = MaskedWindows(ids, seq_len=32, mask_prob=0.15, seed=3, shuffle=True)
    again = MaskedWindows(ids, seq_len=32, mask_prob=0.15, seed=3, shuffle=True)
    n = len(data)
    for i in (0, 5, n + 2, 3 * n - 1):
        a, b = data[i], again[i]
        assert a["input_ids"].shape == (32,)
        assert (a["input_ids"] == b["input_ids"]).all() and (a["labels"] == b["labels"]).all()
    _ = data[0], data[2 * n]  # jump between epochs and back
    assert (data[5]["input_ids"] == again[5]["input_ids"]).all()
    epoch0 = {bytes(data[i]["labels"].clamp(min=0).numpy()) for i in range(n)}
    epoch1 = {bytes(data[n + i]["labels"].clamp(min=0).numpy()) for i in range(n)}
    assert epoch0 != epoch1, "each epoch re-crops and re-masks"


def test_eval_windows_are_the_fixed_grid():
    ids = concatenate([TEXT.encode() * 4])
    data = MaskedWindows(ids, seq_len=16, mask_prob=0.15, seed=0, shuffle=False)
    assert len(data) == len(ids) // 16
    restored = data[1]["input_ids"].numpy().copy()
    labels = data[1]["labels"].numpy()
    restored[labels != IGNORE_INDEX] = labels[labels != IGNORE_INDEX]
    assert restored.tolist() == ids[16:32].tolist()


def test_readers_file_directory_jsonl(tmp_path):
    (tmp_path / "one.txt").write_text("first document")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two.txt").write_text("second document")
    (tmp_path / "skip.md").write_text("not text")
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(json.dumps({"text": "a"}) + "\n\n" + json.dumps({"body": "b", "text": "c"}) + "\n")
    assert read_corpus(str(tmp_path / "one.txt")) == [b"first document"]
    assert read_corpus(str(tmp_path)) == [b"first document", b"second document"]
    assert read_corpus(str(jsonl)) == [b"a", b"c"]
    bodies = _write(tmp_path / "bodies.jsonl", json.dumps({"body": "b"}) + "\n")
    assert read_corpus(str(bodies), text_field="body") == [b"b"]
    docs = embedded_corpus()
    assert len(docs) > 50 and sum(map(len, docs)) > 300_000
    assert read_corpus("embedded") == docs


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.txt", "not found"),
        (lambda d: _write(d / "empty.txt", "  \n"), "empty corpus"),
        (lambda d: (d / "sub").mkdir() or d / "sub", "expected .txt files"),
        (lambda d: _write(d / "bad.jsonl", '{"text": "ok"}\n{oops\n'), "line 2: expected a JSON object"),
        (lambda d: _write(d / "field.jsonl", '{"body": "x"}\n'), "line 1: expected a string field 'text'"),
    ],
)
def test_bad_corpora_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(ValueError, match=r"data\.corpus") as err:
        read_corpus(str(make(tmp_path)))
    assert message in str(err.value) and "\n" not in str(err.value)


def _write(path, text):
    path.write_text(text)
    return path
