"""``from_transformers(hf_model)``: the equivalent torchperceiver model with HF's weights copied.

Each family registers a converter for its HF classes (``@register_hf_converter("PerceiverForOpticalFlow")``);
dispatch is on the class name, so ``transformers`` is never imported here (it is a test-only dependency).
Where HF diverges from the official code, the converted model is configured to reproduce HF exactly
(docs/hf-differences.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchperceiver.core.model import PerceiverIO
from torchperceiver.registry import Registry

Converter = Callable[[Any], PerceiverIO]
HF_CONVERTERS: Registry[Converter] = Registry("hf_model")


def register_hf_converter(*class_names: str) -> Callable[[Converter], Converter]:
    """Decorator: ``fn(hf_model) -> PerceiverIO`` converts the HF classes ``class_names``."""

    def add(fn: Converter) -> Converter:
        for name in class_names:
            HF_CONVERTERS.add(name, fn)
        return fn

    return add


def from_transformers(hf_model: Any) -> PerceiverIO:
    """Convert an HF ``Perceiver*`` model (any weights, any config HF builds correctly) to torchperceiver."""
    name = type(hf_model).__name__
    if name not in HF_CONVERTERS:
        raise ValueError(f"hf_model: expected one of {HF_CONVERTERS.names()}, got {name}")
    return HF_CONVERTERS.get(name)(hf_model)
