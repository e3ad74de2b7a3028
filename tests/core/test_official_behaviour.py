"""The official behaviour in the core: initialisation statistics, masked attention rows, the decoder's query
mask, Fourier resolution defaults and the tokenizer's ``to_string``."""

from __future__ import annotations

import math

import pytest
import torch

import torchperceiver as tp
from torchperceiver.core.attention import MultiHeadAttention
from torchperceiver.core.init import EMBEDDING_STD, TRUNCATED_STD, truncated_normal_, variance_scaling_
from torchperceiver.core.position import FourierPositions


def _stats(t: torch.Tensor) -> tuple[float, float]:
    return t.float().std().item(), t.abs().max().item()


def test_truncated_normal_is_haikus() -> None:
    """Haiku cuts at two standard deviations; variance scaling then rescales to the exact target."""
    w = truncated_normal_(torch.empty(400_000), 0.02)
    std, peak = _stats(w)
    assert peak <= 0.04 and std == pytest.approx(0.02 * TRUNCATED_STD, rel=0.01)
    w = variance_scaling_(torch.empty(1000, 400), fan_in=400)
    std, peak = _stats(w)
    assert std == pytest.approx(1 / math.sqrt(400), rel=0.01)
    assert peak <= 2 / math.sqrt(400) / TRUNCATED_STD + 1e-6


def test_official_initialisation_of_a_built_model() -> None:
    model = tp.build(
        "vision-learned",
        num_classes=300,
        image_size=(32, 32),
        num_latents=256,
        latent_dim=256,
        num_blocks=1,
        num_layers=1,
        num_self_heads=4,
    )
    layer = model.encoder.self_attends[0]
    for linear in (layer.attn.query, layer.attn.key, layer.attn.value, layer.attn.out, layer.mlp.fc1, layer.mlp.fc2):
        std, peak = _stats(linear.weight)
        fan_in = linear.in_features
        assert std == pytest.approx(1 / math.sqrt(fan_in), rel=0.05)
        assert peak <= 2 / math.sqrt(fan_in) / TRUNCATED_STD + 1e-6
        assert not linear.bias.any()
    head = model.output_adapter.head  # any other linear: Haiku's default TruncatedNormal(1/sqrt(fan_in))
    std, peak = _stats(head.weight)
    assert std == pytest.approx(TRUNCATED_STD / math.sqrt(head.in_features), rel=0.05)
    assert peak <= 2 / math.sqrt(head.in_features) + 1e-6
    for table in (model.encoder.latents, model.input_adapter.positions.table, model.output_adapter.query):
        std, peak = _stats(table)
        assert peak <= 0.04 + 1e-7
    std, _ = _stats(model.encoder.latents)
    assert std == pytest.approx(0.02 * TRUNCATED_STD, rel=0.05)
    conv = model.input_adapter.conv1x1  # convs: fan-in truncated normal, zero bias
    std, peak = _stats(conv.weight)
    assert peak <= 2 / math.sqrt(3) + 1e-6 and not conv.bias.any()
    norm = layer.norm
    assert torch.equal(norm.weight, torch.ones_like(norm.weight)) and not norm.bias.any()


def test_flow_head_starts_at_zero() -> None:
    model = tp.build("optical-flow", train_size=(4, 4), num_latents=4, latent_dim=16, num_layers=1, num_self_heads=2)
    assert not model.output_adapter.head.weight.any() and not model.output_adapter.head.bias.any()


def test_masked_lm_bias_and_embedding() -> None:
    model = tp.build("language-mlm", num_latents=4, latent_dim=16, num_layers=1, embed_dim=256, max_seq_len=8)
    assert not model.output_adapter.bias.any()
    std, peak = _stats(model.input_adapter.token_embedding.weight)
    assert peak <= 2 * EMBEDDING_STD + 1e-6 and std == pytest.approx(EMBEDDING_STD * TRUNCATED_STD, rel=0.05)


def test_fully_masked_rows_give_zeros_before_the_output_projection() -> None:
    attn = MultiHeadAttention(8, 6, qk_channels=8, v_channels=8, out_dim=8, num_heads=2)
    x_q, x_kv = torch.randn(2, 3, 8), torch.randn(2, 5, 6)
    kv_mask = torch.ones(2, 5, dtype=torch.bool)
    kv_mask[1] = False  # sample 1 has no valid key
    out = attn(x_q, x_kv, kv_mask)
    torch.testing.assert_close(out[1], attn.out.bias.expand(3, 8))
    torch.testing.assert_close(out[:1], attn(x_q[:1], x_kv[:1]))
    q_mask = torch.tensor([[True, False, True], [True, True, True]])
    out = attn(x_q, x_kv, None, q_mask)
    torch.testing.assert_close(out[0, 1], attn.out.bias)
    torch.testing.assert_close(out[0, [0, 2]], attn(x_q, x_kv)[0, [0, 2]])


def test_decoder_query_mask_chunked_and_whole() -> None:
    model = tp.build("language-mlm", num_latents=4, latent_dim=16, num_layers=1, embed_dim=16, max_seq_len=12).eval()
    ids = torch.randint(6, 262, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 7:] = False
    with torch.no_grad():
        plain = model(ids, mask)
        masked = model(ids, mask, query_mask=mask)
        model.decoder.chunk_size = 5
        chunked = model(ids, mask, query_mask=mask)
    torch.testing.assert_close(masked[mask], plain[mask])  # valid positions are untouched
    assert not torch.allclose(masked[1, 7:], plain[1, 7:])
    torch.testing.assert_close(chunked, masked, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"query_mask: expected shape \(2, 12\)"):
        model(ids, mask, query_mask=mask[:, :5])


def test_fourier_max_resolution_defaults_to_the_grid() -> None:
    implicit = FourierPositions(8, num_dims=2)
    torch.testing.assert_close(implicit(index_dims=(6, 9)), FourierPositions(8, (6, 9))(index_dims=(6, 9)))
    assert implicit.num_channels == 2 * (2 * 8 + 1)
    with pytest.raises(ValueError, match="max_resolution or num_dims"):
        FourierPositions(8)


def test_decode_is_the_official_to_string() -> None:
    tok = tp.ByteTokenizer()
    ids = [6 + b for b in "é".encode()]
    split = [ids[0], 3, ids[1], 0, 0]  # a mask in the middle of a two-byte character, then padding
    assert tok.decode(split) == "é"  # to_string drops specials and decodes the bytes together
    assert tok.decode(split, skip_special=False) == "\ufffd[MASK]\ufffd[PAD][PAD]"
