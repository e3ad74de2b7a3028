"""torchperceiver: Perceiver IO (Jaegle et al., 2021) in plain PyTorch."""

from torchperceiver.convert.deepmind import from_deepmind
from torchperceiver.convert.hf import from_transformers
from torchperceiver.convert.hub import from_pretrained
from torchperceiver.core.config import DecoderConfig, EncoderConfig, PerceiverConfig
from torchperceiver.core.io import load
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.flow.tiling import predict_flow
from torchperceiver.models.multimodal.reconstruct import reconstruct
from torchperceiver.presets import build, preset_arguments, presets
from torchperceiver.tokenizer import ByteTokenizer

__version__ = "0.1.0"

__all__ = [
    "ByteTokenizer",
    "DecoderConfig",
    "EncoderConfig",
    "PerceiverConfig",
    "PerceiverIO",
    "build",
    "from_deepmind",
    "from_pretrained",
    "from_transformers",
    "load",
    "predict_flow",
    "preset_arguments",
    "presets",
    "reconstruct",
]
