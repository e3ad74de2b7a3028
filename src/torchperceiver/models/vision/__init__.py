"""Vision: the three ImageNet classifiers (presets, HF conversion), a small CPU classifier, the
``image-classification`` task (readers, augmentation), attention maps and the image side of ``predict classify``."""

from torchperceiver.models.vision import commands, deepmind, hf, hub, presets, small, task

__all__ = ["commands", "deepmind", "hf", "hub", "presets", "small", "task"]
