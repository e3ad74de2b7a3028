"""Multimodal autoencoding: the Kinetics video + audio + label model (preset, HF conversion, reconstruction)."""

from torchperceiver.models.multimodal import hf, presets, reconstruct

__all__ = ["hf", "presets", "reconstruct"]
