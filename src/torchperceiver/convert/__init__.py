"""Weights from other implementations: HF ``transformers`` models, HF hub repos, DeepMind's Haiku checkpoints."""

from torchperceiver.convert import commands

__all__ = ["commands"]
