"""Helpers for parity tests against HF transformers (a test-only dependency)."""

from __future__ import annotations

import pytest
import torch

from tensor_utils import max_abs_diff

transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4

__all__ = ["TOLERANCE", "max_abs_diff", "randomize", "transformers"]


def randomize(model: torch.nn.Module) -> torch.nn.Module:
    """Give every parameter random values of a size that keeps activations O(1) (norms and biases too),
    so a wrong activation, scale or mapping shows up far above the tolerance."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layernorm" in name and name.endswith("weight"):
                param.copy_(1 + 0.1 * torch.randn_like(param))
            elif param.dim() == 1:
                param.copy_(0.1 * torch.randn_like(param))
            elif "dense" in name or "query" in name or "key" in name or "value" in name or "final_layer" in name:
                param.copy_(torch.randn_like(param) / param.shape[1] ** 0.5)
            else:  # embeddings, latents, position tables
                param.copy_(torch.randn_like(param))
    return model.eval()
