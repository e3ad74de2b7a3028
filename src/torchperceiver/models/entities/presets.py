"""Entity-encoder presets: the paper's StarCraft II sizes (``entity-encoder``) and a small one for the scene task.

Both read a padded set of entities and decode one learned set query plus one query per entity (the entity
itself), in a single decoder pass. docs/entities.md lists where each number comes from.
"""

from __future__ import annotations

from torchperceiver.core.config import DecoderConfig, EncoderConfig, PerceiverConfig
from torchperceiver.core.layers import Activation, BlockSettings
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.entities.adapters import EntityAndSetOutputConfig, EntityInputConfig
from torchperceiver.models.entities.scenes import FEATURES, SceneConfig
from torchperceiver.presets import register_preset

_SCENES = SceneConfig()


def entity_perceiver(
    *,
    max_entities: int,
    num_features: int,
    categories: tuple[int, ...],
    fourier_features: tuple[int, ...],
    num_bands: int,
    embed_dim: int,
    num_entity_outputs: int,
    num_set_outputs: int,
    num_latents: int,
    latent_dim: int,
    num_layers: int,
    num_blocks: int,
    num_self_heads: int,
    num_cross_heads: int,
    widening_factor: int,
    decoder_chunk_size: int | None,
    activation: Activation,
    attention_dropout: float,
    activation_checkpointing: bool,
) -> PerceiverIO:
    """``model(entities, attention_mask) -> EntitySetOutputs(entities [B, M, E], set [B, S])``.

    Cross-attention works at the entity width, self-attention at the latent width (the official defaults);
    the decoder (``num_cross_heads`` heads) keeps a query residual, so each entity's answer starts from its
    own embedding and adds what it reads from the latents.
    """
    return PerceiverIO(
        PerceiverConfig(
            input_adapter=EntityInputConfig(
                num_features=num_features,
                categories=tuple(categories),
                max_entities=max_entities,
                embed_dim=embed_dim,
                fourier_features=tuple(fourier_features),
                num_bands=num_bands,
            ),
            output_adapter=EntityAndSetOutputConfig(
                query_dim=embed_dim, num_entity_outputs=num_entity_outputs, num_set_outputs=num_set_outputs
            ),
            encoder=EncoderConfig(
                num_latents=num_latents,
                latent_dim=latent_dim,
                num_blocks=num_blocks,
                num_self_attends_per_block=num_layers,
                num_cross_heads=num_cross_heads,
                num_self_heads=num_self_heads,
                cross_widening_factor=widening_factor,
                self_widening_factor=widening_factor,
            ),
            decoder=DecoderConfig(
                num_heads=num_cross_heads,
                widening_factor=widening_factor,
                query_residual=True,
                chunk_size=decoder_chunk_size,
            ),
            block=BlockSettings(activation=activation, attention_dropout=attention_dropout),
            activation_checkpointing=activation_checkpointing,
        )
    )


@register_preset("entity-encoder")
def entity_encoder(
    *,
    max_entities: int = 512,
    num_features: int = 16,
    categories: tuple[int, ...] = (256, 5),
    fourier_features: tuple[int, ...] = (),
    num_bands: int = 8,
    embed_dim: int = 128,
    num_entity_outputs: int = 256,
    num_set_outputs: int = 256,
    num_latents: int = 32,
    latent_dim: int = 256,
    num_layers: int = 3,
    num_blocks: int = 1,
    num_self_heads: int = 2,
    num_cross_heads: int = 1,
    widening_factor: int = 4,
    decoder_chunk_size: int | None = None,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """AlphaStar's entity encoder as Perceiver IO: up to 512 entities read into 32 latents, 3 layers.

    From the paper (appendix B, Table 6): 512 entities in and out, 32 latents, a 3-layer latent Transformer,
    128-channel entity features as encoder inputs and decoder queries. Not stated there, so taken from the
    Transformer it replaces (AlphaStar's detailed architecture): 256-wide latents and outputs
    (``entity_embeddings``, ``embedded_entity``), 2 heads, MLP 4× wide, ``unit_type`` (256) and ``alliance``
    (5) as categorical fields. ``num_features`` (the float fields) is this library's placeholder.
    """
    return entity_perceiver(**locals())


@register_preset("entity-scenes")
def entity_scenes(
    *,
    max_entities: int = _SCENES.max_entities,
    num_features: int = len(FEATURES),
    categories: tuple[int, ...] = _SCENES.categories,
    fourier_features: tuple[int, ...] = (0, 1),
    num_bands: int = 8,
    embed_dim: int = 64,
    num_entity_outputs: int = _SCENES.num_classes,
    num_set_outputs: int = _SCENES.num_types,
    num_latents: int = 16,
    latent_dim: int = 64,
    num_layers: int = 2,
    num_blocks: int = 1,
    num_self_heads: int = 4,
    num_cross_heads: int = 4,
    widening_factor: int = 2,
    decoder_chunk_size: int | None = None,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """A CPU-sized encoder for the ``entities`` task: 32 entities with a type and an owner → 16 latents.

    The positions (features 0 and 1) are also read as Fourier features, so attention can match on distance.
    """
    return entity_perceiver(**locals())
