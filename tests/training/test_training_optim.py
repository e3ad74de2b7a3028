"""LAMB against the formula of You et al. (2019, Algorithm 2), parameter groups, and lr schedules."""

import itertools
import math

import pytest
import torch
from torch import nn

from torchperceiver.training.optim import (
    FUSED_ADAMW_DEVICES,
    Lamb,
    OptimConfig,
    build_optimizer,
    build_scheduler,
    lr_factor,
    param_groups,
)


def _lamb_reference(x, grads, lr, betas, eps, wd):
    """Algorithm 2, one tensor, float64; the trust ratio on every tensor (the official Perceiver code)."""
    x = x.double().clone()
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        g = g.double()
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        u = m_hat / (v_hat.sqrt() + eps) + wd * x
        ratio = x.norm() / u.norm() if x.norm() > 0 and u.norm() > 0 else 1.0
        x = x - lr * ratio * u
    return x


def test_lamb_matches_the_formula():
    model = nn.Linear(6, 5)
    nn.init.zeros_(model.bias)  # a zero tensor: the first trust ratio falls back to 1
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    grads = {name: [torch.randn_like(p) for _ in range(4)] for name, p in model.named_parameters()}
    lr, betas, eps, wd = 0.05, (0.9, 0.99), 1e-6, 0.1
    opt = Lamb(param_groups(model, wd), lr=lr, betas=betas, eps=eps)
    for step in range(4):
        for name, p in model.named_parameters():
            p.grad = grads[name][step].clone()
        opt.step()
    for name, p in model.named_parameters():
        matrix = p.ndim >= 2
        expected = _lamb_reference(start[name], grads[name], lr, betas, eps, wd if matrix else 0.0)
        assert torch.allclose(p.double(), expected, atol=1e-6), name


def test_lamb_step_scales_with_the_weight_norm():
    """The trust ratio makes a matrix's update proportional to its norm (layer-wise adaptation)."""
    steps = []
    for scale in (1.0, 10.0):
        w = nn.Parameter(torch.full((4, 4), scale))
        w.grad = torch.ones(4, 4)
        Lamb([w], lr=0.01).step()
        steps.append((scale - w.detach()).norm().item())
    assert steps[1] == pytest.approx(10 * steps[0], rel=1e-5)


def test_param_groups_keep_biases_and_norms_out_of_weight_decay():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Embedding(5, 8))
    decay, no_decay = param_groups(model, 0.01)
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[2].weight)}
    assert {id(p) for p in no_decay["params"]} == {id(model[0].bias), id(model[1].weight), id(model[1].bias)}
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.01, 0.0)
    adamw = build_optimizer(model, OptimConfig(name="adamw", weight_decay=0.01))
    assert isinstance(adamw, torch.optim.AdamW) and [g["weight_decay"] for g in adamw.param_groups] == [0.01, 0.0]


def test_fused_adamw_on_the_cpu_steps_like_the_plain_one():
    """The trainer asks for the fused kernel on every device in FUSED_ADAMW_DEVICES, the CPU included."""
    assert "cpu" in FUSED_ADAMW_DEVICES
    torch.manual_seed(0)
    plain_model = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5))
    fused_model = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5))
    fused_model.load_state_dict(plain_model.state_dict())
    cfg = OptimConfig(name="adamw", lr=1e-2, weight_decay=0.01)
    plain, fused = build_optimizer(plain_model, cfg), build_optimizer(fused_model, cfg, fused=True)
    assert fused.defaults["fused"] and not plain.defaults["fused"]
    for _ in range(3):
        x = torch.randn(4, 6)
        for model, optimizer in ((plain_model, plain), (fused_model, fused)):
            model(x).square().sum().backward()
            optimizer.step()
            optimizer.zero_grad()
    for a, b in zip(plain_model.parameters(), fused_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_warmup_then_cosine():
    cfg = OptimConfig(warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert lr_factor(0, cfg, 110) == pytest.approx(0.1)
    assert lr_factor(9, cfg, 110) == pytest.approx(1.0)
    assert lr_factor(10, cfg, 110) == pytest.approx(1.0)
    middle = 10 + 99 / 2
    assert lr_factor(int(middle), cfg, 110) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 49 / 99)))
    assert lr_factor(109, cfg, 110) == pytest.approx(0.1)
    values = [lr_factor(s, cfg, 110) for s in range(10, 110)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_constant_then_cosine_holds_until_decay_start():
    cfg = OptimConfig(warmup_steps=0, schedule="constant_cosine", decay_start=0.5)
    assert [lr_factor(s, cfg, 100) for s in (0, 25, 49, 50)] == [1.0, 1.0, 1.0, 1.0]
    assert lr_factor(75, cfg, 100) < 1.0
    assert lr_factor(99, cfg, 100) == pytest.approx(0.0)
    assert lr_factor(5, OptimConfig(schedule="constant"), 100) == 1.0


def test_scheduler_drives_the_optimizer_lr():
    model = nn.Linear(2, 2)
    cfg = OptimConfig(lr=0.5, warmup_steps=4)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg, total_steps=20)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.125, 0.25, 0.375, 0.5, 0.5])


@pytest.mark.parametrize(
    ("field", "value"), [("lr", 0.0), ("betas", (0.9, 1.0)), ("weight_decay", -1.0), ("decay_start", 2.0)]
)
def test_nonsense_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=rf"optim\.{field}: expected"):
        OptimConfig(**{field: value})
