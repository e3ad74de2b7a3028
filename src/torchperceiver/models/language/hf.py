"""HF ``PerceiverForMaskedLM`` / ``PerceiverForSequenceClassification`` → torchperceiver."""

from __future__ import annotations

from typing import Any

from torchperceiver.adapters.text import MaskedLMOutputConfig, TextInputConfig
from torchperceiver.convert.hf import register_hf_converter
from torchperceiver.convert.hf_common import (
    State,
    assemble,
    classification_decoder,
    classification_output,
    decoder,
)
from torchperceiver.core.model import PerceiverIO


def _text_input(hf_model: Any) -> tuple[TextInputConfig, State]:
    c = hf_model.config
    prep = hf_model.perceiver.input_preprocessor
    cfg = TextInputConfig(vocab_size=c.vocab_size, max_seq_len=c.max_position_embeddings, embed_dim=c.d_model)
    state = {
        "input_adapter.token_embedding.weight": prep.embeddings.weight,
        "input_adapter.position_embedding.table": prep.position_embeddings.weight,
    }
    return cfg, state


@register_hf_converter("PerceiverForMaskedLM")
def masked_lm(hf_model: Any) -> PerceiverIO:
    c = hf_model.config
    input_cfg, state = _text_input(hf_model)
    hf_decoder = hf_model.perceiver.decoder
    decoder_cfg, decoder_state = decoder(hf_decoder.decoding_cross_attention)
    state.update(decoder_state)
    state["output_adapter.position_queries.table"] = hf_decoder.output_position_encodings.position_embeddings
    state["output_adapter.bias"] = hf_model.embedding_decoder.bias
    output_cfg = MaskedLMOutputConfig(
        vocab_size=c.vocab_size, max_seq_len=c.max_position_embeddings, embed_dim=c.d_model
    )
    return assemble(hf_model, input_cfg, output_cfg, decoder_cfg, state)


@register_hf_converter("PerceiverForSequenceClassification")
def sequence_classification(hf_model: Any) -> PerceiverIO:
    input_cfg, state = _text_input(hf_model)
    output_cfg, output_state = classification_output(hf_model.perceiver.decoder, hf_model.config.num_labels)
    decoder_cfg, decoder_state = classification_decoder(hf_model.perceiver.decoder)
    return assemble(hf_model, input_cfg, output_cfg, decoder_cfg, {**state, **output_state, **decoder_state})
