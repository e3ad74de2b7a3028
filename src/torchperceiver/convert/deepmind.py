"""DeepMind's released Haiku checkpoints → torchperceiver, without JAX, Haiku or code execution.

The official files (``*.pickle``, ``*.pystate``) are pickles of Haiku parameter trees
``{module_name: {param_name: array}}`` (the ImageNet ones ``{"params": tree, "state": tree}``, the state
holding the conv stem's BatchNorm moving averages). A pickle can call any importable function, so
``load_checkpoint`` uses an unpickler that resolves only the few globals NumPy arrays and Haiku's old
``FlatMapping`` container need and refuses every other one by name.

Each family maps the official names onto its preset's parameters with ``Rule`` lists
(``@register_deepmind_converter("language-mlm")``); ``load_rules`` checks that every official array is used
and every parameter of ours is filled with the right shape. Where the names come from: docs/official-weights.md.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchperceiver.core.model import PerceiverIO
from torchperceiver.registry import Registry

Flat = dict[str, np.ndarray]
Transform = Callable[[np.ndarray], np.ndarray]

# ---------------------------------------------------------------------------------------------------------
# Reading the pickle safely


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What protocol-2 pickles call (``_codecs.encode``) to rebuild ``bytes``: only the latin-1 codec."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise _Refused(f"checkpoint: _codecs.encode expected (str, 'latin1'), got {encoding!r}")
    return text.encode("latin1")


def _flat_mapping(mapping: Any = (), *_: Any) -> dict[str, Any]:
    """Haiku's ``FlatMapping``/``FlatMap`` (2020-21) pickle as a call on a plain dict: keep the dict."""
    return dict(mapping)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core import multiarray, numeric  # NumPy 2; pickles written by NumPy 1 name numpy.core
    except ImportError:  # NumPy 1
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]

    found = {"_reconstruct": multiarray._reconstruct, "scalar": multiarray.scalar}
    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):
        for name, obj in found.items():
            table[(f"{package}.multiarray", name)] = obj
        table[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # type: ignore[attr-defined]
    return table


def _allowed_globals() -> dict[tuple[str, str], Any]:
    table = _numpy_globals()
    table[("_codecs", "encode")] = _latin1_bytes
    table[("collections", "OrderedDict")] = dict
    for name in ("FlatMapping", "FlatMap"):
        table[("haiku._src.data_structures", name)] = _flat_mapping
    return table


class _Refused(pickle.UnpicklingError):
    """A global or persistent id the checkpoint reader does not admit."""


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``_allowed_globals``; anything else is refused before it is imported."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(
                f"checkpoint: refusing to load global {module}.{name}: an official Perceiver checkpoint holds "
                "only NumPy arrays in dicts"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused(f"checkpoint: refusing persistent id {pid!r}")


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The Haiku tree pickled in ``path`` (the official ``*.pickle``/``*.pystate``), loaded without running code."""
    data = Path(path).read_bytes()
    try:
        tree = _RestrictedUnpickler(io.BytesIO(data)).load()
    except _Refused as err:
        raise ValueError(f"{path}: {err}") from None
    except Exception as err:  # truncated or not a pickle at all
        raise ValueError(f"{path}: not a readable checkpoint pickle ({type(err).__name__}: {err})") from None
    if not isinstance(tree, Mapping):
        raise ValueError(f"{path}: expected a dict of Haiku modules, got {type(tree).__name__}")
    return dict(tree)


# ---------------------------------------------------------------------------------------------------------
# Flattening the Haiku tree


def flatten(tree: Mapping[str, Any]) -> Flat:
    """``{module: {param: array}}`` (or ``{"params": ..., "state": ...}``) → ``{"module/param": array}``."""
    if set(tree) == {"params", "state"}:
        params, state = flatten(tree["params"]), flatten(tree["state"]) if tree["state"] else {}
        clash = sorted(set(params) & set(state))
        if clash:
            raise ValueError(f"checkpoint: names in both params and state: {clash}")
        return {**params, **state}
    flat: Flat = {}
    for module, params in tree.items():
        if not isinstance(params, Mapping):
            raise ValueError(f"checkpoint: module {module!r}: expected a dict of arrays, got {type(params).__name__}")
        for name, value in params.items():
            array = np.asarray(value)
            if array.dtype == object:
                raise ValueError(f"checkpoint: {module}/{name}: expected a numeric array, got {type(value).__name__}")
            flat[f"{module}/{name}"] = array
    return flat


# ---------------------------------------------------------------------------------------------------------
# Mapping official names onto ours


def as_is(x: np.ndarray) -> np.ndarray:
    return x


def linear_weight(w: np.ndarray) -> np.ndarray:
    """Haiku ``Linear.w`` is ``[in, out]``; ``nn.Linear.weight`` is ``[out, in]``."""
    return w.T


def conv2d_weight(w: np.ndarray) -> np.ndarray:
    """Haiku ``Conv2D.w`` is ``[kh, kw, in, out]`` (HWIO); ``nn.Conv2d.weight`` is ``[out, in, kh, kw]``."""
    return w.transpose(3, 2, 0, 1)


def squeeze(x: np.ndarray) -> np.ndarray:
    """BatchNorm parameters and statistics are stored broadcastable, ``[1, 1, 1, C]``."""
    return x.reshape(-1)


@dataclass(frozen=True)
class Rule:
    """Our state-dict entry ``target`` comes from the official array ``source`` through ``transform``."""

    target: str
    source: str
    transform: Transform = as_is


def linear(target: str, source: str, bias: bool = True) -> list[Rule]:
    rules = [Rule(f"{target}.weight", f"{source}/w", linear_weight)]
    return [*rules, Rule(f"{target}.bias", f"{source}/b")] if bias else rules


def layer_norm(target: str, source: str) -> list[Rule]:
    return [Rule(f"{target}.weight", f"{source}/scale"), Rule(f"{target}.bias", f"{source}/offset")]


def _attention(target: str, source: str) -> list[Rule]:
    """``perceiver.Attention`` builds q, k, v, output linears in that order: ``linear``, ``linear_1..3``."""
    names = ("query", "key", "value", "out")
    return [
        r for i, n in enumerate(names) for r in linear(f"{target}.{n}", f"{source}/linear" + (f"_{i}" if i else ""))
    ]


def _mlp(target: str, source: str) -> list[Rule]:
    return [*linear(f"{target}.fc1", f"{source}/linear"), *linear(f"{target}.fc2", f"{source}/linear_1")]


def cross_attention(target: str, source: str) -> list[Rule]:
    """``perceiver.CrossAttention``: LayerNorms on queries (``layer_norm``), keys/values (``_1``), MLP (``_2``)."""
    return [
        *layer_norm(f"{target}.q_norm", f"{source}/layer_norm"),
        *layer_norm(f"{target}.kv_norm", f"{source}/layer_norm_1"),
        *_attention(f"{target}.attn", f"{source}/attention"),
        *layer_norm(f"{target}.mlp_norm", f"{source}/layer_norm_2"),
        *_mlp(f"{target}.mlp", f"{source}/mlp"),
    ]


def self_attention(target: str, source: str) -> list[Rule]:
    """``perceiver.SelfAttention``: one LayerNorm before attention (``layer_norm``), one before the MLP (``_1``)."""
    return [
        *layer_norm(f"{target}.norm", f"{source}/layer_norm"),
        *_attention(f"{target}.attn", f"{source}/attention"),
        *layer_norm(f"{target}.mlp_norm", f"{source}/layer_norm_1"),
        *_mlp(f"{target}.mlp", f"{source}/mlp"),
    ]


def encoder(model: PerceiverIO, scope: str = "perceiver_encoder") -> list[Rule]:
    """``perceiver.PerceiverEncoder`` named ``scope``: its submodules are built in ``__init__`` (``scope/~/``)."""
    rules = [Rule("encoder.latents", f"{scope}/~/trainable_position_encoding/pos_embs")]
    rules += cross_attention("encoder.cross_attends.0", f"{scope}/~/cross_attention")
    for i in range(len(model.encoder.self_attends)):
        rules += self_attention(f"encoder.self_attends.{i}", f"{scope}/~/self_attention" + (f"_{i}" if i else ""))
    return rules


def decoder(scope: str) -> list[Rule]:
    """``perceiver.BasicDecoder`` named ``scope`` builds its cross-attention in ``__call__`` (``scope/``)."""
    return cross_attention("decoder.cross_attend", f"{scope}/cross_attention")


def batch_norm(target: str, source: str, flat: Mapping[str, np.ndarray], decay: float = 0.9) -> dict[str, np.ndarray]:
    """Haiku ``BatchNorm`` (scale, offset, two zero-debiased EMAs) → ``nn.BatchNorm2d``'s state.

    Haiku normalises with ``mean_ema/average`` and ``var_ema/average`` (a biased variance) in eval mode,
    exactly as PyTorch uses ``running_mean``/``running_var``, so they copy over unchanged. Each EMA also keeps
    ``hidden`` (the biased average) and ``counter``; ``average = hidden / (1 - decay**counter)`` is checked so a
    mismatched file is caught, and ``counter`` becomes ``num_batches_tracked``.
    """
    out = {f"{target}.weight": squeeze(flat[f"{source}/scale"]), f"{target}.bias": squeeze(flat[f"{source}/offset"])}
    counters = []
    for ema, ours in (("mean_ema", "running_mean"), ("var_ema", "running_var")):
        prefix = f"{source}/~/{ema}"
        average, hidden = squeeze(flat[f"{prefix}/average"]), squeeze(flat[f"{prefix}/hidden"])
        counter = int(np.asarray(flat[f"{prefix}/counter"]))
        if counter > 0:
            debiased = hidden.astype(np.float64) / (1.0 - decay**counter)
            if not np.allclose(debiased, average, rtol=1e-4, atol=1e-6):
                raise ValueError(f"checkpoint: {prefix}/average: not hidden / (1 - {decay}**counter)")
        out[f"{target}.{ours}"] = average
        counters.append(counter)
    out[f"{target}.num_batches_tracked"] = np.asarray(max(counters), dtype=np.int64)
    return out


def batch_norm_sources(source: str) -> list[str]:
    """Every official array ``batch_norm`` reads."""
    emas = [f"{source}/~/{e}/{k}" for e in ("mean_ema", "var_ema") for k in ("average", "hidden", "counter")]
    return [f"{source}/scale", f"{source}/offset", *emas]


def load_rules(
    model: PerceiverIO,
    flat: Mapping[str, np.ndarray],
    rules: Iterable[Rule],
    extra: Mapping[str, np.ndarray] | None = None,
    consumed: Iterable[str] = (),
) -> PerceiverIO:
    """Fill every tensor of ``model`` from ``flat`` by ``rules`` (and ready-made ``extra`` tensors).

    Strict both ways: an official array no rule reads (nor ``consumed`` lists), a tensor of ours no rule
    fills, a missing official name or a shape mismatch is a ``ValueError`` naming the parameter.
    """
    rules = list(rules)
    values: dict[str, np.ndarray] = dict(extra or {})
    for rule in rules:
        if rule.source not in flat:
            raise ValueError(f"checkpoint: missing official parameter {rule.source!r} (for {rule.target})")
        values[rule.target] = rule.transform(flat[rule.source])
    used = {r.source for r in rules} | set(consumed)
    unmapped = sorted(set(flat) - used)
    if unmapped:
        raise ValueError(f"checkpoint: official parameters not mapped: {unmapped}")
    ours = model.state_dict()
    missing = sorted(set(ours) - set(values))
    if missing:
        raise ValueError(f"checkpoint: no official parameter for {missing}")
    unknown = sorted(set(values) - set(ours))
    if unknown:
        raise ValueError(f"checkpoint: mapped onto parameters the model lacks: {unknown}")
    state = {}
    for name, value in values.items():
        if tuple(value.shape) != tuple(ours[name].shape):
            source = next((r.source for r in rules if r.target == name), name)
            raise ValueError(
                f"checkpoint: {source}: expected shape {tuple(ours[name].shape)} for {name}, got {tuple(value.shape)}"
            )
        state[name] = torch.from_numpy(np.ascontiguousarray(value)).to(ours[name].dtype)
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------------------------------------------------
# Converters by preset

DeepMindConverter = Callable[[PerceiverIO, Flat], PerceiverIO]
DEEPMIND_CONVERTERS: Registry[DeepMindConverter] = Registry("preset with a DeepMind checkpoint")


def register_deepmind_converter(*presets: str) -> Callable[[DeepMindConverter], DeepMindConverter]:
    """Decorator: ``fn(model, flat) -> model`` loads the official checkpoint of ``presets`` into ``model``."""

    def add(fn: DeepMindConverter) -> DeepMindConverter:
        for name in presets:
            DEEPMIND_CONVERTERS.add(name, fn)
        return fn

    return add


def from_deepmind(checkpoint: str | os.PathLike | Mapping[str, Any], preset: str, **overrides: Any) -> PerceiverIO:
    """The model of ``preset`` (with ``overrides``) holding the official weights in ``checkpoint``.

    ``checkpoint``: the path of a released pickle, or its already-loaded Haiku tree.
    """
    from torchperceiver.presets import build

    convert = DEEPMIND_CONVERTERS.get(preset)
    tree = checkpoint if isinstance(checkpoint, Mapping) else load_checkpoint(checkpoint)
    return convert(build(preset, **overrides), flatten(tree))
