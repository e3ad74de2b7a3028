"""HF ``PerceiverForMaskedLM`` / ``PerceiverForSequenceClassification`` → torchperceiver."""

from __future__ import annotations

from torch import nn

from torchperceiver.adapters.classification import ClassificationOutputConfig
from torchperceiver.adapters.text import MaskedLMOutputConfig, TextInputConfig
from torchperceiver.convert.hf_common import State, assemble, decoder, unsupported
from torchperceiver.core.model import DecoderConfig, PerceiverIO


def _text_input(hf_model: nn.Module) -> tuple[TextInputConfig, State]:
    c = hf_model.config
    prep = hf_model.perceiver.input_preprocessor
    cfg = TextInputConfig(vocab_size=c.vocab_size, max_seq_len=c.max_position_embeddings, embed_dim=c.d_model)
    state = {
        "input_adapter.token_embedding.weight": prep.embeddings.weight,
        "input_adapter.position_embedding.table": prep.position_embeddings.weight,
    }
    return cfg, state


def masked_lm(hf_model: nn.Module) -> PerceiverIO:
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


def classification_output(hf_decoder: nn.Module, num_classes: int) -> tuple[ClassificationOutputConfig, State]:
    """HF's ``PerceiverClassificationDecoder``: a trainable one-position query and a final linear layer."""
    basic = hf_decoder.decoder
    if basic.position_encoding_type != "trainable":
        raise unsupported("classification decoder position encoding", "'trainable'", basic.position_encoding_type)
    query = basic.output_position_encodings.position_embeddings
    cfg = ClassificationOutputConfig(num_classes=num_classes, query_dim=query.shape[1], head="linear")
    state = {
        "output_adapter.query": query,
        "output_adapter.head.weight": basic.final_layer.weight,
        "output_adapter.head.bias": basic.final_layer.bias,
    }
    return cfg, state


def classification_decoder(hf_decoder: nn.Module) -> tuple[DecoderConfig, State]:
    return decoder(hf_decoder.decoder.decoding_cross_attention)


def sequence_classification(hf_model: nn.Module) -> PerceiverIO:
    input_cfg, state = _text_input(hf_model)
    output_cfg, output_state = classification_output(hf_model.perceiver.decoder, hf_model.config.num_labels)
    decoder_cfg, decoder_state = classification_decoder(hf_model.perceiver.decoder)
    return assemble(hf_model, input_cfg, output_cfg, decoder_cfg, {**state, **output_state, **decoder_state})
