"""Presets by name (timm-style): ``build("language-mlm", num_layers=4)``.

Each preset is a function with keyword-only arguments whose defaults are the released shapes;
``build`` forwards overrides to it and turns a wrong name or keyword into a clear ``ValueError``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torchperceiver.core.model import PerceiverIO
from torchperceiver.presets import flow, multimodal, text, vision

_REGISTRY: dict[str, Callable[..., PerceiverIO]] = {
    **flow.PRESETS,
    **multimodal.PRESETS,
    **text.PRESETS,
    **vision.PRESETS,
}


def presets() -> list[str]:
    """Names of every preset."""
    return sorted(_REGISTRY)


def preset_arguments(name: str) -> dict[str, Any]:
    """The overridable arguments of a preset and their defaults (the released values)."""
    return {p.name: p.default for p in inspect.signature(_lookup(name)).parameters.values()}


def build(name: str, **overrides: Any) -> PerceiverIO:
    """Build preset ``name`` with random weights; ``overrides`` replace any of its arguments."""
    fn = _lookup(name)
    allowed = preset_arguments(name)
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"build({name!r}): unknown arguments {unknown}; expected some of {sorted(allowed)}")
    return fn(**overrides)


def _lookup(name: str) -> Callable[..., PerceiverIO]:
    if name not in _REGISTRY:
        raise ValueError(f"preset: expected one of {presets()}, got {name!r}")
    return _REGISTRY[name]
