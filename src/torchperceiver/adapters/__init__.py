"""Modality adapters. ``ADAPTER_CONFIGS`` maps each config's ``kind`` to its class (for loading)."""

from torchperceiver.adapters.classification import ClassificationOutput, ClassificationOutputConfig
from torchperceiver.adapters.text import MaskedLMOutput, MaskedLMOutputConfig, TextInput, TextInputConfig
from torchperceiver.core.adapter import AdapterConfig

ADAPTER_CONFIGS: dict[str, type[AdapterConfig]] = {
    cfg.kind: cfg
    for cfg in (
        TextInputConfig,
        MaskedLMOutputConfig,
        ClassificationOutputConfig,
    )
}

__all__ = [
    "ADAPTER_CONFIGS",
    "ClassificationOutput",
    "ClassificationOutputConfig",
    "MaskedLMOutput",
    "MaskedLMOutputConfig",
    "TextInput",
    "TextInputConfig",
]
