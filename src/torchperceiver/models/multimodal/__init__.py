"""Multimodal autoencoding: the Kinetics video + audio + label model (preset, conversion, reconstruction,
training task on video files, ``predict reconstruct``)."""

from torchperceiver.models.multimodal import commands, deepmind, hf, hub, presets, reconstruct, task

__all__ = ["commands", "deepmind", "hf", "hub", "presets", "reconstruct", "task"]
