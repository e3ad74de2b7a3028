"""torchperceiver: Perceiver IO (Jaegle et al., 2021) in plain PyTorch."""

from torchperceiver.convert import from_transformers
from torchperceiver.core.model import DecoderConfig, EncoderConfig, PerceiverConfig, PerceiverIO
from torchperceiver.presets import build, preset_arguments, presets
from torchperceiver.serialization import load
from torchperceiver.tokenizer import ByteTokenizer

__version__ = "0.1.0"

__all__ = [
    "ByteTokenizer",
    "DecoderConfig",
    "EncoderConfig",
    "PerceiverConfig",
    "PerceiverIO",
    "build",
    "from_transformers",
    "load",
    "preset_arguments",
    "presets",
]
