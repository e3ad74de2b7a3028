"""Optical flow: the released flow model (adapters, preset, HF conversion, tiled prediction at any size),
synthetic AutoFlow-style training data, benchmark readers, metrics, the ``flow`` task and ``predict flow``."""

from torchperceiver.models.flow import adapters, commands, deepmind, hf, hub, presets, task, tiling

__all__ = ["adapters", "commands", "deepmind", "hf", "hub", "presets", "task", "tiling"]
