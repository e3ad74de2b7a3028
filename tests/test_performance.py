"""The performance switches change speed or memory, never results: torch.compile, activation
checkpointing, chunked decoding; and input checks never read an accelerator tensor on the host."""

import copy

import pytest
import torch
import torch.nn.functional as F

import torchperceiver as tp
from torchperceiver.core.checks import check_range

SMALL = dict(
    num_latents=8,
    latent_dim=32,
    num_layers=2,
    num_self_heads=2,
    num_cross_heads=2,
    qk_channels=12,
    embed_dim=16,
    max_seq_len=32,
)  # qk 12 over 2 heads: 6 channels per head, padded to 8 inside attention


def _model(**overrides) -> tp.PerceiverIO:
    return tp.build("language-mlm", **{**SMALL, **overrides})


def _loss_and_grads(model: tp.PerceiverIO, ids: torch.Tensor, seed: int = 1) -> tuple[torch.Tensor, dict]:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # the same attention-dropout masks for both models
    loss = F.cross_entropy(model(ids).flatten(0, 1), ids.flatten())
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def _same_weights(config_change) -> tuple[tp.PerceiverIO, tp.PerceiverIO]:
    base = _model(attention_dropout=0.1)
    other = copy.deepcopy(base)
    config_change(other)
    return base, other


def _count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    plain = _model(attention_dropout=0.1)
    config = copy.deepcopy(plain.config)
    config.activation_checkpointing = True
    checkpointed = tp.PerceiverIO(config)
    checkpointed.load_state_dict(plain.state_dict())
    layer_calls = _count_calls(checkpointed.encoder.self_attends[0])
    decoder_calls = _count_calls(checkpointed.decoder.cross_attend)
    ids = torch.randint(6, 262, (3, 23))
    loss, grads = _loss_and_grads(plain, ids)
    loss_ckpt, grads_ckpt = _loss_and_grads(checkpointed, ids)
    assert layer_calls == [2] and decoder_calls == [2]  # recomputed in backward: checkpointing really ran
    assert torch.equal(loss, loss_ckpt)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_ckpt[name], grad, rtol=0, atol=1e-6, msg=name)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_chunked_decoding_gives_the_same_loss_and_gradients(checkpointing):
    whole = _model()
    chunked = copy.deepcopy(whole)
    chunked.decoder.chunk_size = 5  # 23 queries: chunks of 5, 5, 5, 5, 3
    chunked.decoder.activation_checkpointing = checkpointing
    ids = torch.randint(6, 262, (2, 23))
    loss, grads = _loss_and_grads(whole, ids)
    loss_chunked, grads_chunked = _loss_and_grads(chunked, ids)
    torch.testing.assert_close(loss_chunked, loss, rtol=0, atol=1e-6)
    for name, grad in grads.items():
        torch.testing.assert_close(grads_chunked[name], grad, rtol=0, atol=1e-6, msg=name)


@pytest.mark.slow  # inductor compiles C++ on the CPU: ~1 min
def test_compiled_and_eager_outputs_agree():
    model = _model().eval()
    with torch.no_grad():  # weights of O(1) effect, so the logits are O(1), not ~1e-3
        for param in model.parameters():
            scale = param.shape[-1] ** -0.5 if param.dim() > 1 else 1.0
            param.copy_(torch.randn_like(param) * scale)
    compiled = torch.compile(model)
    ids = torch.randint(6, 262, (2, 19))
    mask = torch.ones(2, 19, dtype=torch.bool)
    mask[1, 12:] = False
    with torch.no_grad():
        expected = model(ids, mask)
        got = compiled(ids, mask)
    assert expected.std() > 0.1
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_range_check_reads_no_accelerator_tensor_on_the_host():
    """On a device tensor the check is queued on the device (no .item()); meta tensors stand in for one here,
    since reading one on the host raises."""
    check_range("input_ids", torch.full((4,), 999, device="meta"), 0, 262)
    with pytest.raises(ValueError, match=r"input_ids: expected values in \[0, 262\), got values in \[0, 999\]"):
        check_range("input_ids", torch.tensor([0, 999]), 0, 262)


def test_model_runs_on_the_meta_device():
    """FLOPs of huge configurations are counted on meta tensors (benchmarks/scaling.py)."""
    with torch.device("meta"):
        model = _model()
        logits = model(torch.zeros(2, 23, dtype=torch.long))
    assert logits.shape == (2, 23, 262) and logits.is_meta
