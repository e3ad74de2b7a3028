"""Reusable modality adapters. Importing this package registers every adapter kind (for ``config.json``)."""

from torchperceiver.adapters import format_v1
from torchperceiver.adapters.audio import AudioContext, AudioInputConfig, AudioOutputConfig
from torchperceiver.adapters.image import ImageContext, ImageInputConfig
from torchperceiver.adapters.label import ClassificationOutputConfig, LabelInputConfig
from torchperceiver.adapters.multimodal import MultimodalContext, MultimodalInputConfig, MultimodalOutputConfig
from torchperceiver.adapters.text import MaskedLMOutputConfig, TextContext, TextInputConfig
from torchperceiver.adapters.video import VideoContext, VideoInputConfig, VideoOutputConfig

__all__ = [
    "AudioContext",
    "AudioInputConfig",
    "AudioOutputConfig",
    "ClassificationOutputConfig",
    "ImageContext",
    "ImageInputConfig",
    "LabelInputConfig",
    "MaskedLMOutputConfig",
    "MultimodalContext",
    "MultimodalInputConfig",
    "MultimodalOutputConfig",
    "TextContext",
    "TextInputConfig",
    "VideoContext",
    "VideoInputConfig",
    "VideoOutputConfig",
    "format_v1",
]
