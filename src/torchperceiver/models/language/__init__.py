"""Language: the byte-level MLM and text classifiers (presets, HF conversion, the MLM task, fill-mask)."""

from torchperceiver.models.language import commands, hf, mlm, presets

__all__ = ["commands", "hf", "mlm", "presets"]
