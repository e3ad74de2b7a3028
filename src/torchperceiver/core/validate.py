"""One check for every config field, driven by its type hint, so presets, ``config.json`` and recipes agree.

Called from the configs' ``__post_init__`` (and for preset arguments by ``build``). Rules by type:
``int`` is a real int (not a bool, float or string) and at least 1, or at least 0 for the counts in
``ZERO_ALLOWED``; ``float`` is finite (an int is accepted), and in [0, 1] when the name says it is a
probability (``*dropout*``, ``*prob*``); ``Literal`` is one of its choices; ``bool`` and ``str`` are
what they say; ``X | None`` is None or an X; tuples and mappings are checked element by element.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

#: Integer fields where 0 is meaningful (no padding, no Fourier bands, no outputs of a kind, an index).
ZERO_ALLOWED = frozenset(
    {"min_padding", "num_bands", "fourier_features", "num_set_outputs", "num_entity_outputs", "seed", "num_workers"}
)


def check_dataclass(obj: Any, where: str) -> None:
    """Check every init field of the dataclass ``obj`` against its type hint; ``where`` prefixes the name."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        if f.init and f.name in hints:
            check_value(f"{where}.{f.name}" if where else f.name, getattr(obj, f.name), hints[f.name])


def check_finite_floats(obj: Any, where: str) -> None:
    """Only that no float field (or float in a tuple field) of ``obj`` is inf or nan: for configs whose own
    checks compare with ``>``, which nan and inf pass."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{where}.{f.name}: expected a finite number, got {value!r}")


def check_value(name: str, value: Any, hint: Any) -> None:
    """``ValueError`` naming ``name``, the expected and the actual value unless ``value`` fits ``hint``."""
    leaf = name.rsplit(".", 1)[-1].split("[", 1)[0]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                check_value(name, value, option)
                return
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(errors[0] if len(errors) == 1 else f"{name}: expected {_describe(hint)}, got {value!r}")
    if origin is Literal:
        if value not in args or type(value) is not type(next(a for a in args if a == value)):
            raise ValueError(f"{name}: expected one of {list(args)}, got {value!r}")
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
        return
    if hint is int:
        _check_int(name, leaf, value)
        return
    if hint is float:
        _check_float(name, leaf, value)
        return
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")
        return
    if origin is tuple or origin in (list, Sequence):
        _check_sequence(name, value, hint, origin, args)
        return
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ValueError(f"{name}: expected a mapping, got {value!r}")
        key_hint, value_hint = args if len(args) == 2 else (Any, Any)
        for key, item in value.items():
            check_value(f"{name} key", key, key_hint)
            check_value(f"{name}.{key}", item, value_hint)
        return
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"{name}: expected a {hint.__name__}, got {value!r}")


def _check_int(name: str, leaf: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    low = 0 if leaf in ZERO_ALLOWED else 1
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")


def _check_float(name: str, leaf: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if ("dropout" in leaf or "prob" in leaf) and not 0 <= value <= 1:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}")


def _check_sequence(name: str, value: Any, hint: Any, origin: Any, args: tuple) -> None:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name}: expected {_describe(hint)}, got {value!r}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ValueError(f"{name}: expected {len(args)} values, got {len(value)} in {value!r}")
        items = list(zip(value, args, strict=True))
    else:
        item_hint = args[0] if args else Any
        items = [(v, item_hint) for v in value]
    for i, (item, item_hint) in enumerate(items):
        check_value(f"{name}[{i}]", item, item_hint)


def _describe(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]
