"""Optical flow: the released flow model (adapters, preset, HF conversion, tiled prediction at any size)."""

from torchperceiver.models.flow import adapters, hf, presets, tiling

__all__ = ["adapters", "hf", "presets", "tiling"]
