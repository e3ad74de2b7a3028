"""The paper's model families, one folder each (language, vision, flow, multimodal, …).

Each family package registers its presets, tasks, converters, adapters and commands when imported;
``torchperceiver.registry.load_families()`` imports every package found here.
"""

#: The library's main job, what ``torchperceiver train`` runs with no recipe: a small byte-level MLM.
DEFAULT_RECIPE = "mlm-tiny"
