"""The endless, seeded stream over a finite dataset."""

import pytest

from torchperceiver.training.data import EndlessDataset


def test_each_epoch_is_a_seeded_permutation():
    stream = EndlessDataset(list(range(5)), seed=3)
    epochs = [[stream[e * 5 + i] for i in range(5)] for e in range(3)]
    assert all(sorted(epoch) == list(range(5)) for epoch in epochs)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]
    again = EndlessDataset(list(range(5)), seed=3)
    assert [again[i] for i in reversed(range(15))] == [x for epoch in epochs for x in epoch][::-1]


def test_unshuffled_stream_cycles_in_order():
    stream = EndlessDataset(["a", "b"], shuffle=False)
    assert [stream[i] for i in range(5)] == ["a", "b", "a", "b", "a"]


def test_errors():
    with pytest.raises(ValueError, match="dataset: expected at least one item"):
        EndlessDataset([])
    with pytest.raises(IndexError, match="index: expected >= 0"):
        EndlessDataset([1])[-1]
