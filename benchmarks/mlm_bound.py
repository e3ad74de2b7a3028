"""What word statistics alone can fill of an MLM recipe's held-out masked bytes: a reference for the main job.

The context-free baseline (printed at every evaluation) guesses each masked byte from the masked word's
length and the byte's position in it. This adds the neighbouring words: for each held-out masked word (the
recipe's own evaluation windows and masks), guess the most frequent training word of the same length between
the same left and right words, backing off to the left word alone, then the right word alone, then the
context-free table. No model is trained; it shows how much a model that has memorised which words sit next to
which could score, i.e. whether a target like "1.5× the context-free baseline" is in the data at all.

``--min-count N`` trusts only contexts seen at least N times in the training split (rarer ones back off), and
the report says how often a run of the recipe's ``train.steps`` shows the model each training word masked:
together they say how much of the reference needs memorising words seen masked only once or twice.

    python -m benchmarks.mlm_bound                         # mlm-tiny
    python -m benchmarks.mlm_bound mlm-tiny --min-count 3 --set train.steps=2400
    python -m benchmarks.mlm_bound mlm-tiny --set data.corpus=python-docs
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator

import numpy as np
import torch

from torchperceiver.models.language.baselines import MAX_WORD_LEN, context_free_correct
from torchperceiver.models.language.masking import IGNORE_INDEX, WHITESPACE_IDS, word_ids
from torchperceiver.models.language.mlm import MLMTask
from torchperceiver.tokenizer import BYTE_OFFSET

Context = tuple[bytes, ...]


def words(ids: np.ndarray) -> list[bytes]:
    """The whitespace-delimited words of a stream of byte ids (special tokens split words too)."""
    text = bytes(np.where(ids >= BYTE_OFFSET, ids - BYTE_OFFSET, ord(" ")).astype(np.uint8))
    return text.split()


def word_tables(train_words: list[bytes]) -> dict[str, dict[Context, Counter]]:
    """Counts of each word by (left, right, length), (left, length) and (right, length)."""
    tables: dict[str, dict[Context, Counter]] = {name: defaultdict(Counter) for name in ("both", "left", "right")}
    padded = [b"", *train_words, b""]
    for left, word, right in zip(padded[:-2], padded[1:-1], padded[2:], strict=True):
        length = bytes([min(len(word), 255)])
        tables["both"][(left, right, length)][word] += 1
        tables["left"][(left, length)][word] += 1
        tables["right"][(right, length)][word] += 1
    return tables


def masked_spans(labels: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each run of labelled positions (a masked word) in one window."""
    labelled = np.r_[False, labels != IGNORE_INDEX, False]
    edges = np.flatnonzero(labelled[1:] != labelled[:-1])
    return zip(edges[::2], edges[1::2], strict=True)


def neighbour(inputs: np.ndarray, position: int, step: int) -> bytes:
    """The unmasked word next to ``position`` in direction ``step`` (±1) within the window, b"" if none."""
    out, p = [], position
    while 0 <= p < len(inputs) and inputs[p] in WHITESPACE_IDS:
        p += step
    while 0 <= p < len(inputs) and inputs[p] >= BYTE_OFFSET and inputs[p] not in WHITESPACE_IDS:
        out.append(int(inputs[p]) - BYTE_OFFSET)
        p += step
    return bytes(out[::step])


def guess(
    tables: dict[str, dict[Context, Counter]], left: bytes, right: bytes, fallback: bytes, min_count: int = 1
) -> bytes:
    """The most frequent word in the first context seen at least ``min_count`` times; ``fallback`` if none."""
    length = bytes([min(len(fallback), 255)])
    for name, key in (("both", (left, right, length)), ("left", (left, length)), ("right", (right, length))):
        counts = tables[name].get(key)
        if counts and counts.total() >= min_count:
            return counts.most_common(1)[0][0]
    return fallback


def masked_exposures(task: MLMTask, steps: int, batch_size: int, samples: int = 2000) -> float:
    """How many times ``steps`` steps of ``batch_size`` windows show each training word masked, on average:
    the passes over the training split times the share of in-word bytes that masking hides (counted on the
    first ``samples`` training windows)."""
    dataset = task.train_dataset()
    labelled = in_words = 0
    for index in range(samples):
        sample = dataset[index]
        labels, inputs = sample["labels"].numpy(), sample["input_ids"].numpy()
        masked = labels != IGNORE_INDEX
        labelled += int(masked.sum())
        in_words += int((word_ids(np.where(masked, labels, inputs)) >= 0).sum())  # the unmasked window's words
    passes = steps * batch_size * task.data_cfg.seq_len / len(task.train_ids)
    return passes * labelled / max(in_words, 1)


def score(task: MLMTask, min_count: int = 1) -> dict[str, float]:
    """Masked-byte accuracy of the context-free and the word-context guesses on ``task``'s held-out set."""
    table = task.word_position_table
    tables = word_tables(words(task.train_ids))
    dataset = task.eval_dataset()
    if dataset is None:
        raise ValueError("data.eval_fraction: expected a held-out split (> 0), got none")
    total = context_free = word_context = 0
    for index in range(len(dataset)):
        sample = dataset[index]
        inputs, labels = sample["input_ids"].numpy(), sample["labels"].numpy()
        total += int((labels != IGNORE_INDEX).sum())
        context_free += int(context_free_correct(table, torch.from_numpy(labels)[None]))
        for start, end in masked_spans(labels):
            length = end - start
            cells = table[min(length, MAX_WORD_LEN), [min(p, MAX_WORD_LEN) for p in range(length)]]
            fallback = bytes((cells - BYTE_OFFSET).clamp(0, 255).tolist())
            left, right = neighbour(inputs, start - 1, -1), neighbour(inputs, end, 1)
            word = guess(tables, left, right, fallback, min_count)
            truth = bytes((labels[start:end] - BYTE_OFFSET).tolist())
            word_context += sum(a == b for a, b in zip(word, truth, strict=False))
    return {
        "masked_bytes": total,
        "context_free_accuracy": context_free / total,
        "word_context_accuracy": word_context / total,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    from torchperceiver.training import recipe

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", default="mlm-tiny")
    p.add_argument("--set", nargs="*", default=[], help="recipe overrides, as for torchperceiver train")
    p.add_argument("--min-count", type=int, default=1, help="trust only contexts seen this often in training")
    args = p.parse_args(argv)
    try:
        if args.min_count < 1:
            raise ValueError(f"--min-count: expected a positive int, got {args.min_count}")
        loaded = recipe.load(args.recipe, args.set)
        task = loaded.build_task()
        if not isinstance(task, MLMTask):
            raise ValueError(f"recipe: expected an mlm recipe, got task {type(task).__name__}")
        result = score(task, args.min_count)
        result["masked_exposures"] = masked_exposures(task, loaded.train.steps, loaded.train.batch_size)
    except ValueError as err:  # bad recipe, override or corpus: one line, exit code 2 (as the CLI)
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    ratio = result["word_context_accuracy"] / result["context_free_accuracy"]
    print(
        f"{args.recipe}: {result['masked_bytes']} held-out masked bytes; context-free "
        f"{result['context_free_accuracy']:.3f}; word context {result['word_context_accuracy']:.3f} "
        f"({ratio:.2f}x the context-free; contexts seen >= {args.min_count}x); {loaded.train.steps} steps show "
        f"each training word masked {result['masked_exposures']:.1f}x on average"
    )
    return result


if __name__ == "__main__":
    main()
