"""Reading official Haiku pickles: no code runs, trees flatten, names map strictly, BatchNorm converts exactly."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from torchperceiver.convert import deepmind as dm


class _RunsCode:
    """What a malicious pickle does: ``__reduce__`` asks the unpickler to call ``os.system``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"embed": {"embeddings": _RunsCode(marker)}}))
    with pytest.raises(ValueError, match=r"refusing to load global (posix|nt|os)\.system"):
        dm.load_checkpoint(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the same file with plain pickle does run the command
    assert marker.exists()


@pytest.mark.parametrize("payload", [(eval, ("1+1",)), (exec, ("x = 1",))])
def test_builtins_are_refused(tmp_path: Path, payload: tuple) -> None:
    class Evil:
        def __reduce__(self):
            return payload

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"m": {"w": Evil()}}))
    with pytest.raises(ValueError, match=r"refusing to load global builtins\."):
        dm.load_checkpoint(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_trees_load_in_every_protocol(tmp_path: Path, protocol: int) -> None:
    tree = {
        "perceiver_encoder/~/cross_attention/attention/linear": {"w": np.random.rand(3, 4).astype(np.float32)},
        "bn/~/mean_ema": {"counter": np.int32(7), "average": np.zeros((1, 1, 1, 2), np.float64)},
    }
    path = tmp_path / "params.pickle"
    path.write_bytes(pickle.dumps(tree, protocol=protocol))
    flat = dm.flatten(dm.load_checkpoint(path))
    assert sorted(flat) == [
        "bn/~/mean_ema/average",
        "bn/~/mean_ema/counter",
        "perceiver_encoder/~/cross_attention/attention/linear/w",
    ]
    np.testing.assert_array_equal(
        flat["perceiver_encoder/~/cross_attention/attention/linear/w"],
        tree["perceiver_encoder/~/cross_attention/attention/linear"]["w"],
    )
    assert int(flat["bn/~/mean_ema/counter"]) == 7


def test_haiku_flat_mapping_pickles_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2021 Haiku pickled its ``FlatMapping`` as a call on a dict (``haiku._src.data_structures.FlatMapping``)."""
    module = types.ModuleType("haiku._src.data_structures")

    class FlatMapping(dict):
        def __reduce__(self):
            return FlatMapping, (dict(self),)

    FlatMapping.__module__, FlatMapping.__qualname__ = module.__name__, "FlatMapping"
    module.FlatMapping = FlatMapping
    for name in ("haiku", "haiku._src"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    tree = FlatMapping({"embed": FlatMapping({"embeddings": np.ones((2, 3), np.float32)})})
    path = tmp_path / "params.pickle"
    path.write_bytes(pickle.dumps(tree, protocol=2))
    monkeypatch.delitem(sys.modules, module.__name__)  # loading must not need Haiku
    flat = dm.flatten(dm.load_checkpoint(path))
    assert list(flat) == ["embed/embeddings"] and flat["embed/embeddings"].shape == (2, 3)


def test_params_and_state_flatten_together() -> None:
    tree = {"params": {"a": {"w": np.zeros(2)}}, "state": {"a/~/ema": {"counter": np.int32(1)}}}
    assert sorted(dm.flatten(tree)) == ["a/w", "a/~/ema/counter"]


def test_not_a_pickle_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.pickle"
    path.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        dm.load_checkpoint(path)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 2)
        self.norm = nn.LayerNorm(2)


def _tiny_rules() -> list[dm.Rule]:
    return [*dm.linear("proj", "mod/linear"), *dm.layer_norm("norm", "mod/layer_norm")]


def _tiny_flat() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "mod/linear/w": rng.normal(size=(3, 2)).astype(np.float32),
        "mod/linear/b": rng.normal(size=2).astype(np.float32),
        "mod/layer_norm/scale": rng.normal(size=2).astype(np.float32),
        "mod/layer_norm/offset": rng.normal(size=2).astype(np.float32),
    }


def test_rules_load_and_transpose() -> None:
    model, flat = _Tiny(), _tiny_flat()
    dm.load_rules(model, flat, _tiny_rules())
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    expected = x @ flat["mod/linear/w"] + flat["mod/linear/b"]
    np.testing.assert_allclose(model.proj(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_unmapped_missing_and_misshapen_names_are_errors() -> None:
    flat = _tiny_flat()
    with pytest.raises(ValueError, match=r"not mapped: \['mod/extra/w'\]"):
        dm.load_rules(_Tiny(), {**flat, "mod/extra/w": np.zeros(1)}, _tiny_rules())
    without = {k: v for k, v in flat.items() if k != "mod/layer_norm/scale"}
    with pytest.raises(ValueError, match="missing official parameter 'mod/layer_norm/scale'"):
        dm.load_rules(_Tiny(), without, _tiny_rules())
    with pytest.raises(ValueError, match=r"no official parameter for \['norm.bias', 'norm.weight'\]"):
        dm.load_rules(
            _Tiny(), flat, dm.linear("proj", "mod/linear"), consumed=["mod/layer_norm/scale", "mod/layer_norm/offset"]
        )
    wrong = {**flat, "mod/linear/w": np.zeros((2, 3), np.float32)}
    with pytest.raises(ValueError, match=r"mod/linear/w: expected shape \(2, 3\) for proj.weight, got \(3, 2\)"):
        dm.load_rules(_Tiny(), wrong, _tiny_rules())


def _haiku_batch_norm_run(batches: list[np.ndarray], decay: float = 0.9) -> dict[str, np.ndarray]:
    """Haiku's BatchNorm training updates, written out: zero-debiased EMAs of the batch mean and biased variance."""
    state = {}
    for ema in ("mean_ema", "var_ema"):
        state[f"bn/~/{ema}/hidden"] = np.zeros((1, 1, 1, 3))
        state[f"bn/~/{ema}/counter"] = np.int32(0)
    for x in batches:  # NHWC
        stats = {"mean_ema": x.mean((0, 1, 2), keepdims=True), "var_ema": x.var((0, 1, 2), keepdims=True)}
        for ema, value in stats.items():
            counter = state[f"bn/~/{ema}/counter"] + 1
            hidden = state[f"bn/~/{ema}/hidden"] * decay + value * (1 - decay)
            state[f"bn/~/{ema}/counter"] = np.int32(counter)
            state[f"bn/~/{ema}/hidden"] = hidden
            state[f"bn/~/{ema}/average"] = hidden / (1 - decay**counter)
    return state


def test_batch_norm_statistics_convert_exactly() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, size=(4, 5, 5, 3)) for _ in range(3)]
    flat = {
        **_haiku_batch_norm_run(batches),
        "bn/scale": rng.normal(size=(1, 1, 1, 3)),
        "bn/offset": rng.normal(size=(1, 1, 1, 3)),
    }
    state = dm.batch_norm("norm", "bn", flat)
    assert sorted(dm.batch_norm_sources("bn")) == sorted(flat)
    bn = nn.BatchNorm2d(3, eps=1e-5).double().eval()
    bn.load_state_dict({k.removeprefix("norm."): torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    assert int(bn.num_batches_tracked) == 3
    x = rng.normal(size=(2, 4, 4, 3))
    # Haiku's eval-mode formula: (x - mean) * scale / sqrt(var + eps) + offset, with the EMAs' averages.
    mean, var = flat["bn/~/mean_ema/average"], flat["bn/~/var_ema/average"]
    expected = (x - mean) * flat["bn/scale"] / np.sqrt(var + 1e-5) + flat["bn/offset"]
    ours = bn(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    # The debiased average is not PyTorch's undebiased running mean: after 3 steps they differ by 1/(1 - 0.9**3).
    plain = sum(0.1 * 0.9 ** (2 - i) * b.mean((0, 1, 2)) for i, b in enumerate(batches))
    np.testing.assert_allclose(state["norm.running_mean"] * (1 - 0.9**3), plain, rtol=1e-10)


def test_batch_norm_inconsistent_average_is_an_error() -> None:
    flat = _haiku_batch_norm_run([np.ones((1, 2, 2, 3))])
    flat = {**flat, "bn/scale": np.ones((1, 1, 1, 3)), "bn/offset": np.zeros((1, 1, 1, 3))}
    flat["bn/~/var_ema/average"] = flat["bn/~/var_ema/average"] + 1.0
    with pytest.raises(ValueError, match="var_ema/average"):
        dm.batch_norm("norm", "bn", flat)
