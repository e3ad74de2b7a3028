"""The two baselines the entity task is compared against, with the Perceiver IO's inputs and outputs.

* ``mlp``: each entity on its own (embedding → MLP → head). It cannot see the other entities, so it cannot
  beat the marginal distribution on a relational target; its set output reads the masked mean of the entities.
* ``transformer``: full self-attention over the entities (AlphaStar's own entity encoder), cost quadratic in
  the number of entities; its set output reads a learned class token.

Both take ``(entities, attention_mask)`` and return ``EntitySetOutputs``, so the task trains them in the same
loop as the Perceiver IO (recipe ``baseline.kind``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from torchperceiver.models.entities.adapters import EntityInput, EntityInputConfig, EntitySetOutputs

BaselineKind = Literal["none", "mlp", "transformer"]


@dataclass
class BaselineConfig:
    """``kind: none`` trains the recipe's Perceiver IO; ``mlp``/``transformer`` replace it (same data, loss, loop)."""

    kind: BaselineKind = "none"
    width: int = 64
    num_layers: int = 2
    num_heads: int = 4
    widening_factor: int = 2

    def __post_init__(self) -> None:
        for name in ("width", "num_layers", "num_heads", "widening_factor"):
            if getattr(self, name) < 1:
                raise ValueError(f"baseline.{name}: expected a positive int, got {getattr(self, name)!r}")
        if self.width % self.num_heads:
            raise ValueError(f"baseline.width: expected a multiple of num_heads={self.num_heads}, got {self.width}")


class EntityMLP(nn.Module):
    """Per-entity MLP: no entity sees another."""

    def __init__(self, inputs: EntityInputConfig, cfg: BaselineConfig, num_entity_outputs: int, num_set_outputs: int):
        super().__init__()
        self.config = {"baseline": asdict(cfg), "input_adapter": asdict(inputs)}
        self.input_adapter = EntityInput(inputs)
        layers: list[nn.Module] = [nn.Linear(inputs.embed_dim, cfg.width), nn.GELU()]
        for _ in range(cfg.num_layers - 1):
            layers += [nn.Linear(cfg.width, cfg.width), nn.GELU()]
        self.mlp = nn.Sequential(*layers)
        self.entity_head = nn.Linear(cfg.width, num_entity_outputs)
        self.set_head = nn.Linear(cfg.width, num_set_outputs)

    def forward(self, entities: Any, attention_mask: torch.Tensor | None = None) -> EntitySetOutputs:
        x, mask, _ = self.input_adapter(entities, attention_mask)
        h = self.mlp(x)
        weights = torch.ones(h.shape[:2], device=h.device) if mask is None else mask.to(h.dtype)
        pooled = (h * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)
        return EntitySetOutputs(self.entity_head(h), self.set_head(pooled))


class EntityTransformer(nn.Module):
    """Pre-norm Transformer encoder over ``[class token; entities]`` with a key-padding mask."""

    def __init__(self, inputs: EntityInputConfig, cfg: BaselineConfig, num_entity_outputs: int, num_set_outputs: int):
        super().__init__()
        self.config = {"baseline": asdict(cfg), "input_adapter": asdict(inputs)}
        self.input_adapter = EntityInput(inputs)
        self.project = nn.Linear(inputs.embed_dim, cfg.width)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.width))
        nn.init.trunc_normal_(self.cls, std=0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.width,
            cfg.num_heads,
            dim_feedforward=cfg.widening_factor * cfg.width,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.entity_head = nn.Linear(cfg.width, num_entity_outputs)
        self.set_head = nn.Linear(cfg.width, num_set_outputs)

    def forward(self, entities: Any, attention_mask: torch.Tensor | None = None) -> EntitySetOutputs:
        x, mask, _ = self.input_adapter(entities, attention_mask)
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), self.project(x)], dim=1)
        padding = None
        if mask is not None:
            padding = torch.cat([torch.zeros_like(mask[:, :1]), ~mask], dim=1)  # True = ignore
        h = self.norm(self.encoder(h, src_key_padding_mask=padding))
        return EntitySetOutputs(self.entity_head(h[:, 1:]), self.set_head(h[:, 0]))


def build_baseline(
    cfg: BaselineConfig, inputs: EntityInputConfig, num_entity_outputs: int, num_set_outputs: int
) -> nn.Module:
    """The baseline ``cfg.kind`` (not ``none``) over entities read as ``inputs`` describes."""
    classes = {"mlp": EntityMLP, "transformer": EntityTransformer}
    if cfg.kind not in classes:
        raise ValueError(f"baseline.kind: expected one of {sorted(classes)}, got {cfg.kind!r}")
    return classes[cfg.kind](inputs, cfg, num_entity_outputs, num_set_outputs)
