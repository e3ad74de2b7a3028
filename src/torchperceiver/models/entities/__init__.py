"""Entities: sets of typed entities in, per-entity and set-level answers out (the paper's StarCraft II encoder).

Presets ``entity-encoder`` (the paper's sizes) and ``entity-scenes``, the ``entities`` task on generated
scenes with per-MLP and full-Transformer baselines, recipe ``entities-tiny``.
"""

from torchperceiver.models.entities import adapters, baselines, presets, scenes, task

__all__ = ["adapters", "baselines", "presets", "scenes", "task"]
