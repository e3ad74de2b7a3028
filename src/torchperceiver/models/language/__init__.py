"""Language: the byte-level MLM, text classification and multi-task classification (presets, HF and
official conversion, the tasks, data readers for tables, GLUE, fortunes and streamed corpora, predict commands)."""

from torchperceiver.models.language import classification, commands, deepmind, hf, hub, mlm, multitask, predict, presets

__all__ = ["classification", "commands", "deepmind", "hf", "hub", "mlm", "multitask", "predict", "presets"]
