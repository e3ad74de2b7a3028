"""The official masked-LM checkpoint converts from a synthetic tree with the official names; the same tree through
HF's renaming rules and ``from_transformers`` gives identical weights and outputs within 1e-5."""

from __future__ import annotations

import pytest
import torch

import torchperceiver as tp
from official_utils import TreeBuilder, assert_close, assert_same_weights, hf_config, load_into_hf

transformers = pytest.importorskip("transformers")


def test_language_mlm() -> None:
    v, d, latents, latent_dim, layers, seq = 262, 16, 4, 32, 2, 12
    t = TreeBuilder()
    t.array("embed", "embeddings", (v, d))
    t.position("trainable_position_encoding", seq, d)
    t.encoder(
        "perceiver_encoder",
        d,
        latents,
        latent_dim,
        layers,
        cross_qk=256,
        cross_v=latent_dim,
        self_qk=256,
        self_v=latent_dim,
    )
    t.position("basic_decoder/~/trainable_position_encoding", seq, d)
    t.decoder("basic_decoder", d, latent_dim, qk=256, v=d)
    t.array("embedding_decoder", "bias", (v,), 0.1)
    ours = tp.from_deepmind(
        t.tree,
        "language-mlm",
        num_latents=latents,
        latent_dim=latent_dim,
        num_layers=layers,
        embed_dim=d,
        max_seq_len=seq,
    )
    config = hf_config(
        transformers,
        num_latents=latents,
        d_latents=latent_dim,
        d_model=d,
        num_self_attends_per_block=layers,
        qk_channels=256,
        v_channels=latent_dim,
        max_position_embeddings=seq,
    )
    hf = tp.from_transformers(load_into_hf(transformers.PerceiverForMaskedLM(config), t.tree))
    assert_same_weights(ours, hf)
    ids = torch.randint(6, v, (2, seq))
    mask = torch.ones(2, seq, dtype=torch.bool)
    mask[1, 7:] = False
    assert_close(ours(ids, mask), hf(ids, mask))
