"""The official initialisation: Haiku's initialisers as DeepMind's Perceiver code uses them.

* Attention (q, k, v, output) and MLP linears: ``VarianceScaling(1.0)``, fan-in, truncated normal, so the
  standard deviation is exactly ``1/sqrt(fan_in)`` (``perceiver.conv_1d``).
* Every other linear and conv: Haiku's default ``TruncatedNormal(1/sqrt(fan_in))``, a normal of that
  standard deviation cut at two of them (so the result has 0.88× that spread); biases zero.
* Latents, position tables, mask tokens, paddings and class queries (``TrainablePositionEncoding``):
  ``TruncatedNormal(0.02)``, cut at ±0.04. PyTorch's ``trunc_normal_(std=0.02)`` cuts at ±2 (not at all).
* Embeddings: ``TruncatedNormal(0.02)``. ``hk.Embed``'s default is ``TruncatedNormal(1.0)`` and the MLM colab
  uses it, but no official MLM training code exists; on mlm-tiny 0.02 trained as well or better (first steps
  far better: the embedding is also the output matrix), see docs/official-weights.md.
* LayerNorm/BatchNorm: scale 1, offset 0.
* Free-standing parameters named ``bias`` (the masked-LM output bias): zero.

Afterwards every module that defines ``init_official_()`` applies its exceptions (the flow head is zero).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torchperceiver.core.attention import MultiHeadAttention
from torchperceiver.core.layers import MLP

# Standard deviation of a unit normal truncated to [-2, 2] (Haiku's ``VarianceScaling`` divides by it).
TRUNCATED_STD = 0.87962566103423978
POSITION_STD = 0.02
EMBEDDING_STD = 0.02  # hk.Embed's default would be 1.0: the one deliberate departure (docs/official-weights.md)


@torch.no_grad()
def truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Haiku ``TruncatedNormal(stddev=std)``: a normal of standard deviation ``std`` cut at ``±2·std``."""
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2 * std, b=2 * std)


@torch.no_grad()
def variance_scaling_(weight: torch.Tensor, fan_in: int) -> torch.Tensor:
    """Haiku ``VarianceScaling(1.0, 'fan_in', 'truncated_normal')``: standard deviation exactly ``1/sqrt(fan_in)``."""
    return truncated_normal_(weight, 1.0 / math.sqrt(fan_in) / TRUNCATED_STD)


def _fan_in(module: nn.Linear | nn.modules.conv._ConvNd) -> int:
    return module.weight[0].numel()  # in_features, or in_channels/groups × kernel size


_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)


@torch.no_grad()
def official_init_(model: nn.Module) -> nn.Module:
    """Re-initialise every parameter of ``model`` as the official code initialises its counterpart."""
    attention_linears = {
        id(m) for block in model.modules() if isinstance(block, (MultiHeadAttention, MLP)) for m in block.modules()
    }
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            if id(module) in attention_linears:
                variance_scaling_(module.weight, _fan_in(module))
            else:
                truncated_normal_(module.weight, 1.0 / math.sqrt(_fan_in(module)))
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            truncated_normal_(module.weight, EMBEDDING_STD)
        elif isinstance(module, _NORMS):
            module.reset_parameters()
        else:
            for name, param in module.named_parameters(recurse=False):
                if name == "bias":
                    nn.init.zeros_(param)
                else:
                    truncated_normal_(param, POSITION_STD)
    for module in model.modules():
        hook = getattr(module, "init_official_", None)
        if callable(hook):
            hook()
    return model
