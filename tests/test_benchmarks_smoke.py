"""Every benchmark entry runs end to end at a tiny size (numbers are not checked, only that they exist),
and the HF copies inside the benchmarks are the same models (fp32 outputs within the parity tolerance)."""

import pytest
from benchmarks import compare, scaling
from benchmarks.entries import ENTRIES, HF, OURS
from benchmarks.report import write_section

from hf_utils import TOLERANCE

TINY = ["--device", "cpu", "--size", "tiny", "--repeats", "1", "--warmup", "0", "--no-doc"]


@pytest.mark.parametrize("preset", sorted(ENTRIES))
def test_compare_entry_runs(preset):
    result = compare.main([*TINY, "--presets", preset])
    assert not result["skipped"], result["skipped"]
    rows = result["rows"]
    assert {HF, OURS} <= {r["impl"] for r in rows}
    for row in rows:
        assert row["median_ms"] > 0 and row["flops"] > 0, row
        assert row["peak_bytes"] is None or row["peak_bytes"] > 0, row
        if row["impl"].startswith(OURS):
            assert row["max_abs_diff"] <= TOLERANCE, row


def test_scaling_sweep_runs_and_plots(tmp_path):
    png = tmp_path / "scaling.png"
    args = ["--device", "cpu", "--lengths", "64", "--perceiver-layers", "1", "--transformer-layers", "1"]
    rows = scaling.main([*args, "--budget-gib", "4", "--no-doc", "--plot", str(png)])
    assert [r["model"] for r in rows] == list(scaling.MODELS)
    assert all(r["status"] == "ok" and r["seconds"] > 0 and r["peak_bytes"] > 0 for r in rows), rows
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize("model", [scaling.PERCEIVER, scaling.MATERIALISED])
def test_scaling_flops_curve_equals_a_direct_count(model):
    """The sweep's FLOPs come from a quadratic through three counts; it must be exact at other lengths."""
    curve = scaling.flops_curve(model, 1, 1)
    for length in (64, 3000):
        assert curve(length) == scaling.training_flops(model, length, 1, 1)


def test_scaling_flops_grow_linearly_for_perceiver_and_quadratically_for_transformer():
    perceiver = [scaling.training_flops(scaling.PERCEIVER, m, 1, 1) for m in (512, 1024, 2048)]
    transformer = [scaling.training_flops(scaling.FUSED, m, 1, 1) for m in (512, 1024, 2048)]
    assert perceiver[2] - perceiver[1] == 2 * (perceiver[1] - perceiver[0])
    assert transformer[2] - transformer[1] > 2.2 * (transformer[1] - transformer[0])


def test_write_section_replaces_its_own_section_only(tmp_path):
    doc = tmp_path / "bench.md"
    doc.write_text("# intro\n")
    write_section(doc, "a", "first", {"x": 1})
    write_section(doc, "b", "other", {})
    write_section(doc, "a", "second", {"x": 2})
    text = doc.read_text()
    assert text.startswith("# intro") and "first" not in text and "second" in text and "other" in text
    assert text.count("<!-- results:a begin -->") == 1


@pytest.mark.parametrize("preset", sorted(ENTRIES))
def test_flops_counted_on_meta_equal_hfs_own_count(preset):
    """The tables count FLOPs on a meta copy of torchperceiver (HF cannot run on meta tensors)."""
    case = ENTRIES[preset]("tiny")
    twin = case.impls[case.impls[HF].flops_like or OURS]
    for mode in case.modes:
        assert compare.model_flops(case, twin, mode, fold=False) == compare.flops_of(case, case.impls[HF], mode)


def test_masked_decoding_counts_fewer_flops():
    """The MLM entry's torchperceiver row decodes the masked bytes only (tests/test_performance.py checks that
    the loss is the full decode's)."""
    case = ENTRIES["language-mlm"]("tiny")
    full = case.impls[case.impls[HF].flops_like]
    assert compare.model_flops(case, case.impls[OURS], "train") < compare.model_flops(case, full, "train")


def test_mlm_bound_finds_context_that_word_statistics_can_fill(tmp_path):
    """On text that repeats a few sentences, the neighbouring words give the masked word away: the word-context
    reference must far exceed the context-free one (which knows only word lengths)."""
    from benchmarks import mlm_bound

    sentences = ["the cat sat on the mat.", "a dog ran to my park.", "we saw it in his car."]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(sentences[i % 3] for i in range(3000)))
    result = mlm_bound.main(["mlm-tiny", "--set", f"data.corpus={corpus}"])
    assert result["masked_bytes"] > 100
    assert result["word_context_accuracy"] > 0.8 > result["context_free_accuracy"]
    # 500 steps × 64 windows × 32 bytes is ~16 passes over the ~63 kB of training text, ~1 word in 7 masked
    assert 1.5 < result["masked_exposures"] < 3
    # Contexts that were never seen that often back off to the context-free guess, byte for byte.
    rare = mlm_bound.main(["mlm-tiny", "--min-count", "100000", "--set", f"data.corpus={corpus}"])
    assert rare["word_context_accuracy"] == rare["context_free_accuracy"] == result["context_free_accuracy"]


def test_mlm_bound_reads_masked_spans_and_neighbours():
    import numpy as np
    from benchmarks import mlm_bound

    from torchperceiver.models.language.masking import IGNORE_INDEX
    from torchperceiver.tokenizer import BYTE_OFFSET, MASK

    text = np.frombuffer(b"ab cd ef", dtype=np.uint8).astype(np.int64) + BYTE_OFFSET
    labels = np.full(8, IGNORE_INDEX)
    labels[3:5] = text[3:5]
    inputs = np.where(labels != IGNORE_INDEX, MASK, text)
    assert list(mlm_bound.masked_spans(labels)) == [(3, 5)]
    assert mlm_bound.neighbour(inputs, 2, -1) == b"ab" and mlm_bound.neighbour(inputs, 5, 1) == b"ef"
    assert mlm_bound.neighbour(inputs, 7, 1) == b"f" and mlm_bound.neighbour(inputs, 8, 1) == b""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "error: recipe: expected one of"),
        (["mlm-tiny", "--set", "data.eval_fraction=0"], "error: data.eval_fraction: expected a held-out split"),
        (["mlm-tiny", "--min-count", "0"], "error: --min-count: expected a positive int, got 0"),
    ],
)
def test_mlm_bound_rejects_bad_input_in_one_line(argv, message, capsys):
    from benchmarks import mlm_bound

    with pytest.raises(SystemExit) as stop:
        mlm_bound.main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(message) and err.count("\n") == 1
