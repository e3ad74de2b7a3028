"""Modality adapters. ``ADAPTER_CONFIGS`` maps each config's ``kind`` to its class (for loading)."""

from torchperceiver.adapters.audio import AudioInput, AudioInputConfig, AudioOutput, AudioOutputConfig
from torchperceiver.adapters.classification import ClassificationOutput, ClassificationOutputConfig
from torchperceiver.adapters.flow import FlowInput, FlowInputConfig, FlowOutput, FlowOutputConfig
from torchperceiver.adapters.image import ImageInput, ImageInputConfig
from torchperceiver.adapters.label import LabelInput, LabelInputConfig, LabelOutput, LabelOutputConfig
from torchperceiver.adapters.multimodal import (
    MultimodalInput,
    MultimodalInputConfig,
    MultimodalOutput,
    MultimodalOutputConfig,
)
from torchperceiver.adapters.text import MaskedLMOutput, MaskedLMOutputConfig, TextInput, TextInputConfig
from torchperceiver.adapters.video import VideoInput, VideoInputConfig, VideoOutput, VideoOutputConfig
from torchperceiver.core.adapter import AdapterConfig

ADAPTER_CONFIGS: dict[str, type[AdapterConfig]] = {
    cfg.kind: cfg
    for cfg in (
        TextInputConfig,
        MaskedLMOutputConfig,
        ClassificationOutputConfig,
        FlowInputConfig,
        FlowOutputConfig,
        ImageInputConfig,
        AudioInputConfig,
        AudioOutputConfig,
        VideoInputConfig,
        VideoOutputConfig,
        LabelInputConfig,
        LabelOutputConfig,
        MultimodalInputConfig,
        MultimodalOutputConfig,
    )
}

__all__ = [
    "ADAPTER_CONFIGS",
    "AudioInput",
    "AudioInputConfig",
    "AudioOutput",
    "AudioOutputConfig",
    "ClassificationOutput",
    "ClassificationOutputConfig",
    "FlowInput",
    "FlowInputConfig",
    "FlowOutput",
    "FlowOutputConfig",
    "ImageInput",
    "ImageInputConfig",
    "LabelInput",
    "LabelInputConfig",
    "LabelOutput",
    "LabelOutputConfig",
    "MaskedLMOutput",
    "MaskedLMOutputConfig",
    "MultimodalInput",
    "MultimodalInputConfig",
    "MultimodalOutput",
    "MultimodalOutputConfig",
    "TextInput",
    "TextInputConfig",
    "VideoInput",
    "VideoInputConfig",
    "VideoOutput",
    "VideoOutputConfig",
]
