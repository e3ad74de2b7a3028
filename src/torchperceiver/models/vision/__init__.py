"""Vision: the three ImageNet classifiers (presets, HF conversion)."""

from torchperceiver.models.vision import hf, presets

__all__ = ["hf", "presets"]
