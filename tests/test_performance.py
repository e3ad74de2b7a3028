"""The performance switches change speed or memory, never results: torch.compile, activation
checkpointing (every preset), chunked decoding, decoding only the masked bytes; and a training step never
reads an accelerator tensor on the host (meta tensors stand in for one on a CPU; CUDA's sync debug mode
where a GPU is present)."""

import copy
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

import torchperceiver as tp
from torchperceiver.adapters.text import labelled_positions
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
        torch.testing.assert_close(grads_ckpt[name], grad, rtol=1e-5, atol=1e-5, msg=name)


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
        torch.testing.assert_close(grads_chunked[name], grad, rtol=1e-5, atol=1e-5, msg=name)


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


# Every preset at a size that runs in milliseconds (a preset missing here is built with its defaults,
# shrunk only where it takes these argument names).
_LATENT = dict(num_latents=8, latent_dim=32, num_layers=1, num_self_heads=2)
_TEXT = dict(_LATENT, num_cross_heads=2, qk_channels=12, embed_dim=16, max_seq_len=24)
TINY_PRESETS: dict[str, dict[str, Any]] = {
    "language-mlm": _TEXT,
    "text-classifier": dict(_TEXT, num_classes=3),
    "vision-fourier": dict(_LATENT, num_blocks=2, num_bands=4, max_resolution=(12, 12), num_classes=5),
    "vision-conv": dict(_LATENT, num_blocks=2, conv_channels=8, num_bands=4, max_resolution=(6, 6), num_classes=5),
    "vision-learned": dict(_LATENT, num_blocks=2, image_size=(12, 12), conv_channels=8, position_channels=8),
    "optical-flow": dict(_LATENT, train_size=(8, 12), num_bands=4, patch_dim=8, decoder_chunk_size=40),
    "multimodal-ae": dict(
        _LATENT,
        num_frames=2,
        image_size=(8, 8),
        num_samples=64,
        num_classes=5,
        audio_num_bands=4,
        image_num_bands=4,
        label_query_dim=16,
        output_dim=16,
    ),
    "entity-encoder": dict(_LATENT, max_entities=10, embed_dim=16, num_entity_outputs=5, num_set_outputs=3),
    "entity-scenes": dict(_LATENT, max_entities=10, embed_dim=16),
}


def _tiny(preset: str, **overrides: Any) -> tp.PerceiverIO:
    known = tp.preset_arguments(preset)
    args = {k: v for k, v in {**_LATENT, **TINY_PRESETS.get(preset, {})}.items() if k in known}
    return tp.build(preset, **args, **overrides)


def _tensors(out: Any) -> list[torch.Tensor]:
    """The floating-point tensors of any model output (a tensor, a dict, a (named) tuple of them)."""
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, dict):
        return [t for v in out.values() for t in _tensors(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _tensors(v)]
    return []


def _to(obj: Any, device: str | torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(v, device) for v in obj)
    return obj


def _generic_loss(out: Any) -> torch.Tensor:
    return torch.stack([t.float().square().mean() for t in _tensors(out)]).sum()


def _generic_grads(model: tp.PerceiverIO, inputs: tuple) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same random label masking / dropout for both models
    loss = _generic_loss(model(*inputs))
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("preset", sorted(tp.presets()))
def test_activation_checkpointing_gives_the_same_gradients_for_every_preset(preset):
    plain = _tiny(preset)
    checkpointed = copy.deepcopy(plain)
    checkpointed.set_activation_checkpointing(True)
    assert checkpointed.config.activation_checkpointing
    layer_calls = _count_calls(checkpointed.encoder.self_attends[0])
    inputs = plain.example_inputs(2)
    loss, grads = _generic_grads(plain, inputs)
    loss_ckpt, grads_ckpt = _generic_grads(checkpointed, inputs)
    blocks = checkpointed.encoder.num_blocks
    assert layer_calls == [2 * blocks]  # forward + recomputation in backward, per block
    torch.testing.assert_close(loss_ckpt, loss, rtol=0, atol=1e-6)
    assert grads.keys() == grads_ckpt.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grads_ckpt[name], grad, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("preset", sorted(tp.presets()))
def test_training_step_reads_no_tensor_on_the_host(preset):
    """Forward and backward of every preset on meta tensors: any host read (``.item()``, ``nonzero``, a
    boolean index, a Python branch on a value) raises there, as it would sync a GPU."""
    model = _tiny(preset)
    inputs = _to(model.example_inputs(2), "meta")
    model = model.to("meta").train()
    _generic_loss(model(*inputs)).backward()
    assert all(p.grad is None or p.grad.is_meta for p in model.parameters())


def _mlm_batch(ids: torch.Tensor, fraction: float = 0.3) -> torch.Tensor:
    masked = torch.rand(ids.shape) < fraction
    masked[:, 0] = True
    masked[-1] = False  # a row with a single target: padded positions in the others' K
    masked[-1, 3] = True
    return ids.masked_fill(~masked, -100)


def test_decoding_only_the_masked_positions_gives_the_full_decodes_loss_and_gradients():
    full = _model()
    masked = copy.deepcopy(full)
    ids = torch.randint(6, 262, (3, 23))
    labels = _mlm_batch(ids)
    positions, read = labelled_positions(labels)
    assert positions.shape == (3, int((labels != -100).sum(1).max()))
    assert torch.equal(read[read != -100], labels[labels != -100])  # every target once, in order

    def loss_of(model: tp.PerceiverIO, logits_labels: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        logits, target = logits_labels
        return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100, reduction="sum")

    loss_full = loss_of(full, (full(ids), labels))
    loss_masked = loss_of(masked, (masked(ids, positions=positions), read))
    loss_full.backward()
    loss_masked.backward()
    torch.testing.assert_close(loss_masked, loss_full, rtol=1e-6, atol=1e-5)
    for (name, p), q in zip(full.named_parameters(), masked.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("training", [True, False])
def test_mlm_task_decodes_the_masked_bytes_by_default_with_the_same_loss_and_metrics(training):
    pytest.importorskip("jsonargparse")  # recipes need the train extra
    from torchperceiver.training import recipe

    overrides = [f"model.{k}={v}" for k, v in _TEXT.items()] + ["data.seq_len=24"]
    rec = recipe.load("mlm-tiny", overrides)
    assert rec.sections["data"].decode_masked_only
    task = rec.build_task()
    model = task.build_model().train(training)
    batch = default_collate([task.train_dataset()[i] for i in range(4)])
    calls = []
    model.decoder.register_forward_pre_hook(lambda _, args: calls.append(args[0].shape[1]))
    with torch.no_grad():
        masked = task.loss(model, batch)
        task.data_cfg.decode_masked_only = False
        full = task.loss(model, batch)
    assert calls[0] < calls[1] == 24  # fewer queries, then every position
    torch.testing.assert_close(masked.loss, full.loss, rtol=1e-6, atol=1e-5)
    assert masked.count == full.count
    assert masked.metrics.keys() == full.metrics.keys()
    for name, (value, count) in full.metrics.items():
        torch.testing.assert_close(masked.metrics[name][0], value, rtol=1e-6, atol=1e-5, msg=name)
        assert masked.metrics[name][1] == count


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        (torch.tensor([1, 2]), r"positions: expected 2 dims \[batch, num_positions\], got shape \(2,\)"),
        (torch.tensor([[0.5]]), "positions: expected an integer tensor, got dtype torch.float32"),
        (torch.tensor([[1], [2], [3]]), r"positions: expected batch size = 2 \(dim 0\), got 3"),
        (torch.tensor([[1], [23]]), r"positions: expected values in \[0, 23\), got values in \[1, 23\]"),
    ],
)
def test_bad_positions_are_refused(positions, message):
    with pytest.raises(ValueError, match=message):
        _model()(torch.randint(6, 262, (2, 23)), positions=positions)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA's sync debug mode needs a GPU")
@pytest.mark.parametrize("preset", sorted(tp.presets()))
def test_cuda_training_step_has_no_host_device_sync(preset):
    """forward, loss, backward and a fused AdamW step under ``set_sync_debug_mode("error")`` (after one warm-up
    step: the optimizer's state is created there); the MLM row decodes masked positions given with K."""
    device = torch.device("cuda")
    model = _tiny(preset).to(device).train()
    inputs = _to(model.example_inputs(2), device)
    kwargs = {}
    if preset == "language-mlm":
        labels = _mlm_batch(inputs[0].cpu())
        k = int((labels != -100).sum(1).max())  # read on the host, with the batch, before it moves
        kwargs["positions"] = labelled_positions(labels.to(device), k=k)[0]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def step() -> None:
        _generic_loss(model(*inputs, **kwargs)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
