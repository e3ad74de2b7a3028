"""Streamed corpora: per-rank shards, a shuffle buffer, and a position that resumes exactly."""

import json
import sys

import pytest
import torch

from mlm_utils import TINY, cli, final_weights, finished_run
from torchperceiver.models.language.streaming import DocumentStream, StreamingWindows, document_stream, shard_files

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]


def _write_shards(root, kinds=("txt", "jsonl")):
    root.mkdir(parents=True, exist_ok=True)
    for k in range(4):
        lines = [
            " ".join(WORDS[(k + i + j) % len(WORDS)] for j in range(5 + i % 7)) + f" doc {k}-{i}" for i in range(30)
        ]
        kind = kinds[k % len(kinds)]
        if kind == "txt":
            (root / f"shard{k}.txt").write_text("\n".join(lines) + "\n")
        elif kind == "jsonl":
            (root / f"shard{k}.jsonl").write_text("".join(json.dumps({"text": line}) + "\n" for line in lines))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"text": lines}), root / f"shard{k}.parquet", row_group_size=7)
    return root


def _windows(files, seed=0, rank=0, world=1):
    return StreamingWindows(
        DocumentStream(files, "text", seed, rank, world), seq_len=24, mask_prob=0.15, buffer=8, seed=seed
    )


def _take(dataset, start, n):
    return [dataset[i]["input_ids"] for i in range(start, start + n)]


@pytest.mark.parametrize("kinds", [("txt", "jsonl"), ("parquet",)])
def test_restored_state_continues_exactly(tmp_path, kinds):
    if "parquet" in kinds:
        pytest.importorskip("pyarrow")
    files = shard_files(str(_write_shards(tmp_path / "c", kinds)))
    reference = _windows(files)
    expected = _take(reference, 0, 300)  # several epochs over 4 small shards
    first = _windows(files)
    _take(first, 0, 137)
    state = first.state_dict()
    resumed = _windows(files)
    resumed.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(_take(resumed, 137, 163), expected[137:], strict=True))
    assert reference.stream.epoch >= 1, "the run crossed an epoch"


def test_hf_datasets_stream_resumes_exactly(tmp_path, monkeypatch):
    """``hf:DIR`` streams a dataset through ``datasets``; its position resumes exactly, across epochs."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    corpus = f"hf:{_write_shards(tmp_path / 'c', ('jsonl',))}"

    def windows(rank=0, world=1):
        stream = document_stream(corpus, "text", 0, rank, world)
        return StreamingWindows(stream, seq_len=24, mask_prob=0.15, buffer=8, seed=0)

    reference = windows()
    expected = _take(reference, 0, 300)
    assert reference.stream.epoch >= 1, "the run crossed an epoch"
    first = windows()
    _take(first, 0, 137)
    resumed = windows()
    resumed.load_state_dict(first.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(_take(resumed, 137, 163), expected[137:], strict=True))
    docs = [next(document_stream(corpus, "text", 0, rank, 2).documents()) for rank in (0, 1)]
    assert docs[0] != docs[1], "each rank reads its own shards"
    with pytest.raises(ValueError, match=r"data\.text_field: expected a column of .* got 'body'"):
        document_stream(corpus, "body", 0)
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ValueError, match=r"data\.corpus: expected the `datasets` package .*torchperceiver\[hf\]"):
        document_stream(corpus, "text", 0)


def test_ranks_read_disjoint_shards_and_bad_inputs(tmp_path):
    files = shard_files(str(_write_shards(tmp_path / "c")))
    assert [p.name for p in files] == ["shard0.txt", "shard1.jsonl", "shard2.txt", "shard3.jsonl"]
    assert DocumentStream(files, "text", 0, rank=1, world_size=2).files == [files[1], files[3]]
    with pytest.raises(ValueError, match=r"expected at least one shard per rank \(8\), got 4 files"):
        DocumentStream(files, "text", 0, rank=0, world_size=8)
    with pytest.raises(ValueError, match=r"data\.corpus: expected \.txt, \.jsonl or \.parquet shards"):
        shard_files(str(tmp_path / "nothing*"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jsonl").write_text('{"text": "fine"}\n{"body": "x"}\n')
    with pytest.raises(ValueError, match=r"a\.jsonl: line 2 after byte 0: expected a string field 'text'"):
        _take(_windows(shard_files(str(tmp_path / "bad"))), 0, 1)


def _run_record(run):
    """What a finished run read and learned: final weights, the stream's final position, the logged train losses."""
    from torchperceiver.training.checkpoint import resolve

    last = resolve(run, "run")
    data = torch.load(last / "state.pt", weights_only=True)["data"]
    losses = [
        (row["step"], row["train/loss"])
        for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        if "train/loss" in row
    ]
    return final_weights(run), data, losses


def test_streamed_mlm_run_resumes_to_the_same_batches_and_weights(tmp_path):
    """Resuming a streamed run from its step-2 checkpoint reads the same windows as the uninterrupted run: the
    same losses at steps 3-4, the same final stream position and the same final weights.

    Both halves run as fresh processes (``cli``): a resume inside the pytest process ran with the modules it had
    imported minutes earlier, and with whatever global torch state earlier tests left, while the uninterrupted
    run used the tree as it was at its start; the comparison then measured two code versions, not the resume.
    """
    import shutil

    corpus = _write_shards(tmp_path / "corpus")
    overrides = [*TINY, "data.streaming=true", f"data.corpus={corpus}", "data.shuffle_buffer=16", "data.seq_len=32"]
    overrides += ["train.steps=4", "train.log_every=1", "train.eval_every=100", "train.checkpoint_every=2"]
    overrides += ["train.keep_checkpoints=5", "train.threads=1", "data.baseline_bytes=20000"]
    finished_run(tmp_path / "whole", overrides)
    run = tmp_path / "resumed"
    shutil.copytree(tmp_path / "whole" / "run", run)
    weights, data, losses = _run_record(run)
    result = cli("train", "--resume", run / "checkpoints" / "step-00000002")
    assert result.returncode == 0, result.stderr
    got_weights, got_data, got_losses = _run_record(run)
    assert [step for step, _ in got_losses] == [1, 2, 3, 4], "steps 1-2 kept from the run, 3-4 logged by the resume"
    assert got_losses == losses, "the resumed run read other windows"
    assert len(got_data) == 1 and torch.equal(got_data[0]["pending"], data[0]["pending"])
    assert got_data[0]["stream"] == data[0]["stream"] and got_data[0]["rng"] == data[0]["rng"]
    assert all(torch.equal(a, b) for a, b in zip(got_data[0]["buffer"], data[0]["buffer"], strict=True))
    assert all(torch.equal(got_weights[k], weights[k]) for k in weights), "the same windows, other weights"


def test_an_mlm_recipe_streams_an_hf_dataset(tmp_path, monkeypatch):
    """``data.corpus=hf:DIR`` reaches the MLM task: a streamed run trains on a local dataset directory."""
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    corpus = _write_shards(tmp_path / "c", ("jsonl",))
    overrides = [*TINY, "data.streaming=true", f"data.corpus=hf:{corpus}", "data.shuffle_buffer=16", "data.seq_len=32"]
    overrides += ["train.steps=2", "train.eval_every=100", "train.checkpoint_every=2", "data.baseline_bytes=20000"]
    finished_run(tmp_path, overrides)
    assert (tmp_path / "run" / "checkpoints" / "step-00000002").is_dir()
