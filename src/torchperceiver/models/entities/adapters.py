"""Sets of entities in, per-entity and set-level answers out (the AlphaStar entity-encoder interface).

In: each entity is a row of float features (projected) plus categorical fields (each embedded), summed into
one ``embed_dim`` vector. No position is added: the encoder's cross-attention is a weighted sum over the
entities, so the latents do not depend on the order in which the entities are listed, and padding slots
(``attention_mask`` False) are never attended to.

Out: per-entity outputs are decoded with **the entities themselves as queries** (AlphaStar's
``entity_embeddings``, read by its pointer heads), so they permute with the input; set-level outputs (its
``embedded_entity``, or a class / a regression target) come from one learned query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

from torchperceiver.core.adapter import (
    Context,
    Encoded,
    InputAdapter,
    InputAdapterConfig,
    OutputAdapter,
    OutputAdapterConfig,
)
from torchperceiver.core.checks import (
    check_floating,
    check_integer,
    check_mask,
    check_no_query_args,
    check_range,
    check_rank,
    check_size,
    check_tensor,
)
from torchperceiver.core.position import fourier_features


@dataclass(frozen=True)
class EntityContext(Context):
    """The embedded entities ``[B, M, embed_dim]`` (the per-entity queries) and the padding mask ``[B, M]``."""

    num_entities: int
    embeddings: torch.Tensor
    mask: torch.Tensor | None


@dataclass
class EntityInputConfig(InputAdapterConfig):
    """``num_features`` floats and one categorical field per entry of ``categories`` (its number of values).

    ``fourier_features``: indices of float features (coordinates in [-1, 1] or [0, 1]) that are also expanded
    into ``num_bands`` sines and cosines up to frequency ``max_resolution / 2`` (DESIGN §3's rule) before the
    projection. Dot products of such features are a kernel of the coordinate difference, so attention can
    pick out nearby entities directly.
    """

    kind = "entity_input"
    context_type: ClassVar[type[Context]] = EntityContext
    num_features: int = 5
    categories: tuple[int, ...] = (4, 2)
    max_entities: int = 64
    embed_dim: int = 64
    fourier_features: tuple[int, ...] = ()
    num_bands: int = 8
    max_resolution: int = 16

    @property
    def projected_features(self) -> int:
        """Width of the float vector that is projected: the features and their Fourier expansions."""
        return self.num_features + 2 * self.num_bands * len(self.fourier_features)

    def build(self) -> EntityInput:
        return EntityInput(self)


class EntityInput(InputAdapter):
    """``{"features": [B, M, F] float, "categories": [B, M, K] int}`` → ``x [B, M, embed_dim]``."""

    def __init__(self, cfg: EntityInputConfig) -> None:
        super().__init__()
        if cfg.num_features < 1 and not cfg.categories:
            raise ValueError("entity_input: expected num_features >= 1 or some categories, got neither")
        if any(size < 1 for size in cfg.categories):
            raise ValueError(f"categories: expected positive numbers of values, got {tuple(cfg.categories)}")
        if any(not 0 <= i < cfg.num_features for i in cfg.fourier_features):
            raise ValueError(
                f"fourier_features: expected indices in [0, num_features={cfg.num_features}), "
                f"got {tuple(cfg.fourier_features)}"
            )
        self.cfg = cfg
        self.project = nn.Linear(cfg.projected_features, cfg.embed_dim) if cfg.num_features else None
        embeddings = [nn.Embedding(size, cfg.embed_dim) for size in cfg.categories]
        for embedding in embeddings:
            nn.init.trunc_normal_(embedding.weight, std=0.02)
        self.embeddings = nn.ModuleList(embeddings)

    @property
    def num_channels(self) -> int:
        return self.cfg.embed_dim

    def forward(self, entities: Mapping[str, torch.Tensor], attention_mask: torch.Tensor | None = None) -> Encoded:
        features, categories = self._checked(entities)
        reference = features if features is not None else categories
        assert reference is not None  # _checked guarantees one of them
        batch, num_entities = reference.shape[:2]
        mask = check_mask("attention_mask", attention_mask, (batch, num_entities))
        if self.project is not None and features is not None:
            x = self.project(self._expanded(features))
        else:
            x = torch.zeros(batch, num_entities, self.cfg.embed_dim, device=reference.device)
        for k, embedding in enumerate(self.embeddings):
            x = x + embedding(categories[..., k])  # type: ignore[index]
        return Encoded(x, mask, EntityContext(batch, num_entities, x, mask))

    def _expanded(self, features: torch.Tensor) -> torch.Tensor:
        if not self.cfg.fourier_features:
            return features
        coords = features[..., list(self.cfg.fourier_features)]
        resolution = [self.cfg.max_resolution] * len(self.cfg.fourier_features)
        waves = fourier_features(coords, self.cfg.num_bands, resolution, concat_pos=False)
        return torch.cat([features, waves.to(features.dtype)], dim=-1)

    def _checked(self, entities: Any) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if not isinstance(entities, Mapping):
            raise ValueError(
                f"entities: expected a mapping with 'features' and 'categories', got {type(entities).__name__}"
            )
        features = entities.get("features") if self.cfg.num_features else None
        categories = entities.get("categories") if self.cfg.categories else None
        if self.cfg.num_features:
            features = check_tensor("entities['features']", features)
            check_rank("entities['features']", features, 3, "[batch, entities, features]")
            check_floating("entities['features']", features)
            check_size("entities['features']", features, 2, self.cfg.num_features, "num_features")
        if self.cfg.categories:
            categories = check_tensor("entities['categories']", categories)
            check_rank("entities['categories']", categories, 3, "[batch, entities, fields]")
            check_integer("entities['categories']", categories)
            check_size("entities['categories']", categories, 2, len(self.cfg.categories), "len(categories)")
            for k, size in enumerate(self.cfg.categories):
                check_range(f"entities['categories'][..., {k}]", categories[..., k], 0, size)
        if features is not None and categories is not None and features.shape[:2] != categories.shape[:2]:
            raise ValueError(
                f"entities: expected 'features' and 'categories' with the same [batch, entities], got "
                f"{tuple(features.shape[:2])} and {tuple(categories.shape[:2])}"
            )
        num_entities = (features if features is not None else categories).shape[1]  # type: ignore[union-attr]
        if num_entities > self.cfg.max_entities:
            raise ValueError(f"entities: expected at most max_entities={self.cfg.max_entities}, got {num_entities}")
        return features, categories

    def example_inputs(self, batch_size: int = 1) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``max_entities`` random entities per scene, the first half to all of them real (mask True)."""
        m = self.cfg.max_entities
        entities = {"features": torch.randn(batch_size, m, self.cfg.num_features)}
        if self.cfg.categories:
            fields = [torch.randint(size, (batch_size, m)) for size in self.cfg.categories]
            entities["categories"] = torch.stack(fields, dim=-1)
        counts = torch.randint((m + 1) // 2, m + 1, (batch_size, 1))
        return entities, torch.arange(m)[None, :] < counts


def _head(width: int, num_outputs: int) -> nn.Module:
    """A linear read-out, or the decoder output itself (embeddings) when ``num_outputs`` is 0."""
    return nn.Linear(width, num_outputs) if num_outputs else nn.Identity()


@dataclass
class EntityOutputConfig(OutputAdapterConfig):
    """One output per entity, decoded with the embedded entity as its query. ``num_outputs`` 0: embeddings."""

    kind = "entity_output"
    requires: ClassVar[type[Context]] = EntityContext
    query_dim: int = 64
    num_outputs: int = 6

    def build(self) -> EntityOutput:
        return EntityOutput(self)


class EntityOutput(OutputAdapter):
    """Decoder output ``[B, M, query_dim]`` → ``[B, M, num_outputs]`` (padding rows are computed, not meaningful)."""

    def __init__(self, cfg: EntityOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.head = _head(cfg.query_dim, cfg.num_outputs)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: EntityContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        check_no_query_args(query_args, "every entity is decoded")
        return context.embeddings

    def forward(self, y: torch.Tensor, context: EntityContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        return self.head(y)


@dataclass
class SetOutputConfig(OutputAdapterConfig):
    """One learned query → ``num_outputs`` numbers for the whole set: class logits or regression values."""

    kind = "entity_set_output"
    query_dim: int = 64
    num_outputs: int = 4

    def build(self) -> SetOutput:
        return SetOutput(self)


class SetOutput(OutputAdapter):
    def __init__(self, cfg: SetOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.query = nn.Parameter(torch.empty(1, cfg.query_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.head = _head(cfg.query_dim, cfg.num_outputs)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: Context, **query_args: Any) -> torch.Tensor:
        check_no_query_args(query_args, "the set is one query")
        return self.query.expand(context.batch_size, -1, -1)

    def forward(self, y: torch.Tensor, context: Context, **query_args: Any) -> torch.Tensor:
        return self.head(y[:, 0])


class EntitySetOutputs(NamedTuple):
    """Per-entity outputs ``[B, M, E]`` and the set-level output ``[B, S]`` of one decoder pass."""

    entities: torch.Tensor
    set: torch.Tensor


@dataclass
class EntityAndSetOutputConfig(OutputAdapterConfig):
    """Both at once, as AlphaStar's entity encoder returns them: one learned set query + one query per entity."""

    kind = "entity_and_set_output"
    requires: ClassVar[type[Context]] = EntityContext
    query_dim: int = 64
    num_entity_outputs: int = 6
    num_set_outputs: int = 4

    def build(self) -> EntityAndSetOutput:
        return EntityAndSetOutput(self)


class EntityAndSetOutput(OutputAdapter):
    """Queries ``[set query; entities]`` ``[B, 1 + M, query_dim]`` → ``EntitySetOutputs``."""

    def __init__(self, cfg: EntityAndSetOutputConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.set_query = nn.Parameter(torch.empty(1, cfg.query_dim))
        nn.init.trunc_normal_(self.set_query, std=0.02)
        self.entity_head = _head(cfg.query_dim, cfg.num_entity_outputs)
        self.set_head = _head(cfg.query_dim, cfg.num_set_outputs)

    @property
    def query_channels(self) -> int:
        return self.cfg.query_dim

    def queries(self, context: EntityContext, **query_args: Any) -> torch.Tensor:  # type: ignore[override]
        check_no_query_args(query_args, "the set and every entity are decoded")
        set_query = self.set_query.to(context.embeddings.dtype).expand(context.batch_size, -1, -1)
        return torch.cat([set_query, context.embeddings], dim=1)

    def forward(self, y: torch.Tensor, context: EntityContext, **query_args: Any) -> EntitySetOutputs:  # type: ignore[override]
        return EntitySetOutputs(self.entity_head(y[:, 1:]), self.set_head(y[:, 0]))
