"""The same command under torchrun: 2 CPU processes (gloo) end where one process with the same global batch does."""

import os
import sys

import pytest

import process_utils
from mlm_utils import TINY, final_weights, finished_run

# Global batch 8 in micro-batches of 2: one process accumulates 4, two processes 2 each.
RUN = [*TINY, "train.steps=4", "train.micro_batch_size=2", "train.eval_every=2", "train.checkpoint_every=2"]
OPTIMIZERS = {"lamb": ["optim.name=lamb"], "adamw": ["optim.name=adamw", "optim.lr=1e-3"]}


@pytest.fixture(scope="module")
def singles(tmp_path_factory):
    """One-process runs by optimizer, made on first use: LAMB (the recipe's) and fused AdamW."""
    # Adam's m / sqrt(v) turns the float-order noise of near-zero gradients into steps of up to ~lr: AdamW
    # runs at lr 1e-3 so that 1e-5 still bounds the difference (at the recipe's 1e-2 it is ~2e-5).
    runs = {}

    def get(optimizer):
        if optimizer not in runs:
            directory = tmp_path_factory.mktemp(f"single-{optimizer}")
            result = finished_run(directory, [*RUN, *OPTIMIZERS[optimizer]])
            assert "1 process(es) × 2 × 4 accumulation" in result.stdout
            runs[optimizer] = directory / "run"
        return runs[optimizer]

    return get


# AdamW is fused on CPUs too (one kernel over all parameters): checked under FSDP2's sharded parameters.
@pytest.mark.parametrize(("strategy", "optimizer"), [("ddp", "lamb"), ("fsdp", "lamb"), ("fsdp", "adamw")])
def test_two_processes_match_one(tmp_path, singles, strategy, optimizer):
    single = singles(optimizer)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "torchperceiver.cli", "train", "--out", str(run), "--set", *RUN, *OPTIMIZERS[optimizer]]
    command += [f"train.distributed={strategy}"]
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
