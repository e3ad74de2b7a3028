"""Weights from other implementations."""

from torchperceiver.convert.from_transformers import from_transformers

__all__ = ["from_transformers"]
