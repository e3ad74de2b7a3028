"""``from_transformers(hf_model)``: the equivalent torchperceiver model with HF's weights copied.

Dispatches on the HF class name so ``transformers`` is never imported here (it is a test-only
dependency). Where HF diverges from the official code, the converted model is configured to
reproduce HF exactly (docs/hf-differences.md).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from torchperceiver.convert import hf_text
from torchperceiver.core.model import PerceiverIO

CONVERTERS: dict[str, Callable[[nn.Module], PerceiverIO]] = {
    "PerceiverForMaskedLM": hf_text.masked_lm,
    "PerceiverForSequenceClassification": hf_text.sequence_classification,
}


def from_transformers(hf_model: nn.Module) -> PerceiverIO:
    """Convert an HF ``Perceiver*`` model (any weights, any config HF builds correctly) to torchperceiver."""
    name = type(hf_model).__name__
    if name not in CONVERTERS:
        raise ValueError(f"hf_model: expected one of {sorted(CONVERTERS)}, got {name}")
    return CONVERTERS[name](hf_model)
