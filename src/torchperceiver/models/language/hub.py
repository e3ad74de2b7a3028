"""HF hub repos of ``PerceiverForMaskedLM`` / ``PerceiverForSequenceClassification`` (no ``transformers``)."""

from __future__ import annotations

from types import SimpleNamespace

from torchperceiver.adapters.text import MaskedLMOutputConfig, TextInputConfig
from torchperceiver.convert import hub
from torchperceiver.core.model import PerceiverIO

_PREP = "perceiver.input_preprocessor"


def _text_input(c: SimpleNamespace, weights: hub.Weights) -> tuple[TextInputConfig, hub.State]:
    cfg = TextInputConfig(vocab_size=c.vocab_size, max_seq_len=c.max_position_embeddings, embed_dim=c.d_model)
    state = weights.rename(
        [
            ("input_adapter.token_embedding.weight", f"{_PREP}.embeddings.weight"),
            ("input_adapter.position_embedding.table", f"{_PREP}.position_embeddings.weight"),
        ]
    )
    return cfg, state


@hub.register_hub_reader("PerceiverForMaskedLM")
def masked_lm(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    """HF hard-codes the decoder: 8 heads, qk 256, v = ``d_model``, no query residual."""
    input_cfg, state = _text_input(c, weights)
    state.update(
        weights.rename(
            [
                (
                    "output_adapter.position_queries.table",
                    "perceiver.decoder.output_position_encodings.position_embeddings",
                ),
                ("output_adapter.bias", "embedding_decoder.bias"),
            ]
        )
    )
    decoder_cfg, decoder_state = hub.decoder(
        weights, "perceiver.decoder.decoding_cross_attention", num_heads=8, query_residual=False
    )
    output_cfg = MaskedLMOutputConfig(
        vocab_size=c.vocab_size, max_seq_len=c.max_position_embeddings, embed_dim=c.d_model
    )
    return hub.assemble(c, weights, input_cfg, output_cfg, decoder_cfg, {**state, **decoder_state})


@hub.register_hub_reader("PerceiverForSequenceClassification")
def sequence_classification(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    input_cfg, state = _text_input(c, weights)
    output_cfg, output_state = hub.classification_output(c, weights)
    decoder_cfg, decoder_state = hub.decoder(
        weights, "perceiver.decoder.decoder.decoding_cross_attention", num_heads=1, query_residual=True
    )
    return hub.assemble(c, weights, input_cfg, output_cfg, decoder_cfg, {**state, **output_state, **decoder_state})
