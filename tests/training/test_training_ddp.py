"""The same command under torchrun: 2 CPU processes (gloo) end where one process with the same global batch does."""

import os
import sys

import pytest

import process_utils
from mlm_utils import TINY, final_weights, finished_run

# Global batch 8 in micro-batches of 2: one process accumulates 4, two processes 2 each.
RUN = [*TINY, "train.steps=4", "train.micro_batch_size=2", "train.eval_every=2", "train.checkpoint_every=2"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    directory = tmp_path_factory.mktemp("single")
    assert "1 process(es) × 2 × 4 accumulation" in finished_run(directory, RUN).stdout
    return directory / "run"


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_match_one(tmp_path, single, strategy):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "torchperceiver.cli", "train", "--out", str(run), "--set", *RUN, f"train.distributed={strategy}"]
    # Its own process group, killed whole on any failure or timeout: no orphaned workers.
    result = process_utils.run(command, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("2 process(es) × 2 × 2 accumulation") == 1, "rank 0 alone reports"
    got, expected = final_weights(run), final_weights(single)
    assert got.keys() == expected.keys()
    worst = max((got[k] - expected[k]).abs().max().item() for k in got)
    assert worst <= 1e-5, f"max abs parameter difference {worst:.2e}"
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len((single / "metrics.jsonl").read_text().splitlines()), "rank 0 alone logs"
