"""Attention: exact head-width padding, key masks, channel bookkeeping."""

import math

import pytest
import torch

from torchperceiver.core.attention import MultiHeadAttention
from torchperceiver.core.layers import BlockSettings, CrossAttentionLayer


def _reference(attn: MultiHeadAttention, x_q, x_kv, mask=None):
    """Explicit softmax(q kᵀ / sqrt(d)) v with the same weights, no padding, no fused kernel."""
    h = attn.num_heads
    q = attn.query(x_q).unflatten(-1, (h, -1)).transpose(1, 2)
    k = attn.key(x_kv).unflatten(-1, (h, -1)).transpose(1, 2)
    v = attn.value(x_kv).unflatten(-1, (h, -1)).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return attn.out((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))


@pytest.mark.parametrize(
    ("q_dim", "kv_dim", "qk", "v", "heads"),
    [
        (64, 261, 261, 261, 1),
        (1280, 768, 256, 1280, 8),
        (512, 322, 322, 322, 1),
        (704, 704, 704, 704, 1),
        (48, 20, 12, 30, 3),
    ],
)
def test_padded_equals_unpadded_and_reference(q_dim, kv_dim, qk, v, heads):
    kwargs = dict(qk_channels=qk, v_channels=v, out_dim=q_dim, num_heads=heads)
    padded = MultiHeadAttention(q_dim, kv_dim, pad_head_dim=True, **kwargs)
    plain = MultiHeadAttention(q_dim, kv_dim, pad_head_dim=False, **kwargs)
    plain.load_state_dict(padded.state_dict())
    assert plain.qk_pad == plain.v_pad == 0
    x_q, x_kv = torch.randn(2, 5, q_dim), torch.randn(2, 17, kv_dim)
    mask = torch.rand(2, 17) > 0.3
    mask[:, 0] = True
    out = padded(x_q, x_kv, mask)
    torch.testing.assert_close(out, plain(x_q, x_kv, mask), rtol=0, atol=1e-5)
    torch.testing.assert_close(out, _reference(padded, x_q, x_kv, mask), rtol=1e-5, atol=1e-5)


def test_padding_is_applied_to_odd_widths():
    attn = MultiHeadAttention(64, 261, qk_channels=261, v_channels=261, out_dim=64, num_heads=1)
    assert (attn.qk_pad, attn.v_pad) == (3, 3)
    assert attn.query.weight.shape == (261, 64)  # parameters keep the true width


def test_masked_keys_do_not_influence_output():
    layer = CrossAttentionLayer(32, 16, num_heads=4, qk_channels=32, settings=BlockSettings()).eval()
    x_q, x_kv = torch.randn(2, 3, 32), torch.randn(2, 10, 16)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    changed = x_kv.clone()
    changed[1, 6:] = 100 * torch.randn(4, 16)
    torch.testing.assert_close(layer(x_q, x_kv, mask), layer(x_q, changed, mask))
    assert not torch.allclose(layer(x_q, x_kv), layer(x_q, changed))


def test_fully_masked_row_is_finite():
    attn = MultiHeadAttention(8, 8, qk_channels=8, v_channels=8, out_dim=8, num_heads=1)
    out = attn(torch.randn(1, 2, 8), torch.randn(1, 4, 8), torch.zeros(1, 4, dtype=torch.bool))
    assert torch.isfinite(out).all()


def test_channels_must_divide_heads():
    with pytest.raises(ValueError, match="qk_channels: expected a multiple of num_heads=3, got 16"):
        MultiHeadAttention(16, 16, qk_channels=16, v_channels=15, out_dim=16, num_heads=3)


def test_bf16_autocast_close_to_fp32():
    layer = CrossAttentionLayer(24, 261, num_heads=1)
    args = (torch.randn(2, 4, 24), torch.randn(2, 9, 261), torch.ones(2, 9, dtype=torch.bool))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = layer(*args)
    torch.testing.assert_close(low.float(), layer(*args), atol=5e-2, rtol=5e-2)


FOLD_CASES = [  # (q_dim, kv_dim, qk, v, heads, queries, keys): where folding is the cheaper way
    (1024, 1024, 1024, 1024, 1, 1, 64),  # a class query over the latents (vision decoder)
    (64, 261, 261, 261, 1, 8, 96),  # latents over pixels ⊕ Fourier features (vision encoder)
    (48, 20, 12, 30, 3, 2, 40),  # several heads, odd widths
    (32, 24, 16, 16, 2, 1, 50),  # kv width already a multiple of 8: one more group for the constant channel
]


@pytest.mark.parametrize(("q_dim", "kv_dim", "qk", "v", "heads", "queries", "keys"), FOLD_CASES)
@pytest.mark.parametrize("pad", [True, False])
def test_folded_attention_equals_projected_with_gradients(q_dim, kv_dim, qk, v, heads, queries, keys, pad):
    torch.manual_seed(0)
    attn = MultiHeadAttention(
        q_dim, kv_dim, qk_channels=qk, v_channels=v, out_dim=q_dim, num_heads=heads, pad_head_dim=pad
    ).double()
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.3)  # nonzero biases, so the constant channel matters
    x_q = torch.randn(2, queries, q_dim, dtype=torch.double, requires_grad=True)
    x_kv = torch.randn(2, keys, kv_dim, dtype=torch.double, requires_grad=True)
    mask = torch.rand(2, keys) > 0.3
    mask[1] = False  # a row with no valid key: zeros either way
    q_mask = torch.rand(2, queries) > 0.2

    def run(fold: bool):
        attn.fold = fold
        assert attn._folds(x_q, x_kv) is fold
        attn.zero_grad()
        x_q.grad = x_kv.grad = None
        out = attn(x_q, x_kv, mask, q_mask)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads = {name: p.grad.clone() for name, p in attn.named_parameters()}
        return out, x_q.grad.clone(), x_kv.grad.clone(), grads

    folded, projected = run(True), run(False)
    torch.testing.assert_close(folded[:3], projected[:3], rtol=1e-9, atol=1e-10)
    for name in projected[3]:  # every parameter gets its gradient (DDP needs all of them used), b_k's being ~0
        torch.testing.assert_close(folded[3][name], projected[3][name], rtol=1e-9, atol=1e-10, msg=name)


def test_folding_is_chosen_by_cost_only_where_it_saves_work():
    cls = MultiHeadAttention(1024, 1024, qk_channels=1024, v_channels=1024, out_dim=1024, num_heads=1)
    assert cls._folds(torch.zeros(2, 1, 1024), torch.zeros(2, 512, 1024))  # one query, 512 keys
    self_attn = MultiHeadAttention(128, 128, qk_channels=128, v_channels=128, out_dim=128, num_heads=4)
    assert not self_attn._folds(torch.zeros(2, 64, 128), torch.zeros(2, 64, 128))  # as many queries as keys
    mlm = MultiHeadAttention(768, 1280, qk_channels=256, v_channels=768, out_dim=768, num_heads=8)
    assert not mlm._folds(torch.zeros(1, 2048, 768), torch.zeros(1, 256, 1280))  # many queries, few latents
    cls.fold = False
    assert not cls._folds(torch.zeros(2, 1, 1024), torch.zeros(2, 512, 1024))


def test_folded_attention_under_bf16_autocast_is_close_to_fp32():
    torch.manual_seed(0)
    attn = MultiHeadAttention(64, 261, qk_channels=261, v_channels=261, out_dim=64, num_heads=1)
    x_q, x_kv = torch.randn(2, 4, 64), torch.randn(2, 96, 261)
    assert attn._folds(x_q, x_kv)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = attn(x_q, x_kv)
    torch.testing.assert_close(low.float(), attn(x_q, x_kv), rtol=0.05, atol=0.05)
