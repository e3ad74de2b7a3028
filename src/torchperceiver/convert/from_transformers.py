"""``from_transformers(hf_model)``: the equivalent torchperceiver model with HF's weights copied.

Dispatches on the HF class name so ``transformers`` is never imported here (it is a test-only
dependency). Where HF diverges from the official code, the converted model is configured to
reproduce HF exactly (docs/hf-differences.md).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from torchperceiver.convert import hf_flow, hf_multimodal, hf_text, hf_vision
from torchperceiver.core.model import PerceiverIO

CONVERTERS: dict[str, Callable[[nn.Module], PerceiverIO]] = {
    "PerceiverForImageClassificationConvProcessing": hf_vision.image_classification,
    "PerceiverForImageClassificationFourier": hf_vision.image_classification,
    "PerceiverForImageClassificationLearned": hf_vision.image_classification,
    "PerceiverForMaskedLM": hf_text.masked_lm,
    "PerceiverForMultimodalAutoencoding": hf_multimodal.multimodal_autoencoding,
    "PerceiverForOpticalFlow": hf_flow.optical_flow,
    "PerceiverForSequenceClassification": hf_text.sequence_classification,
}


def from_transformers(hf_model: nn.Module) -> PerceiverIO:
    """Convert an HF ``Perceiver*`` model (any weights, any config HF builds correctly) to torchperceiver."""
    name = type(hf_model).__name__
    if name not in CONVERTERS:
        raise ValueError(f"hf_model: expected one of {sorted(CONVERTERS)}, got {name}")
    return CONVERTERS[name](hf_model)
