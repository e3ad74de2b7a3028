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
