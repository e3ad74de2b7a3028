"""How to read the adapter configs of format 1 (saved before one folder per family).

Format 1 had a separate ``label_output`` kind (now ``classification``) and multimodal adapters with flat
audio/image/label fields (now any named modalities, each with its own nested config).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torchperceiver.core.config import V1_ADAPTERS


@V1_ADAPTERS.register("label_output")
def _v1_label_output(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "classification",
        "num_classes": spec["num_classes"],
        "query_dim": spec["query_dim"],
        "head_dim": spec.get("head_dim"),
    }


@V1_ADAPTERS.register("multimodal_input")
def _v1_multimodal_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    names = ("audio", "image", "label")
    return {
        "kind": "multimodal_input",
        "modalities": {
            "audio": {
                "kind": "audio_input",
                "samples_per_patch": spec["samples_per_patch"],
                "num_bands": spec["audio_num_bands"],
                "max_resolution": spec["audio_max_resolution"],
            },
            "image": {
                "kind": "video_input",
                "in_channels": spec["in_channels"],
                "patch_size": spec["patch_size"],
                "num_bands": spec["image_num_bands"],
                "max_resolution": spec["image_max_resolution"],
            },
            "label": {"kind": "label_input", "num_classes": spec["num_classes"]},
        },
        "mask_probs": dict(zip(names, spec["mask_probs"], strict=True)),
        "eval_mask_probs": dict(zip(names, spec["eval_mask_probs"], strict=True)),
        "min_padding": spec["min_padding"],
    }


@V1_ADAPTERS.register("multimodal_output")
def _v1_multimodal_output(spec: Mapping[str, Any]) -> dict[str, Any]:
    head = spec["output_dim"]
    return {
        "kind": "multimodal_output",
        "modalities": {
            "audio": {
                "kind": "audio_output",
                "samples_per_patch": spec["samples_per_patch"],
                "num_bands": spec["audio_num_bands"],
                "max_resolution": spec["audio_max_resolution"],
                "head_dim": head,
            },
            "image": {
                "kind": "video_output",
                "out_channels": spec["out_channels"],
                "num_bands": spec["image_num_bands"],
                "max_resolution": spec["image_max_resolution"],
                "head_dim": head,
            },
            "label": {
                "kind": "classification",
                "num_classes": spec["num_classes"],
                "query_dim": spec["label_query_dim"],
                "head_dim": head,
            },
        },
        "min_padding": spec["min_padding"],
        "output_dim": head,
    }
