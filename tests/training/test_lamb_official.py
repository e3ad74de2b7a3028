"""LAMB equals the official optax chain (scale_by_adam → add_weight_decay → scale_by_trust_ratio → -lr),
written here as a plain per-tensor loop, and weight decay follows the official rule."""

from __future__ import annotations

import copy

import torch
from torch import nn

from torchperceiver.training.optim import Lamb, param_groups


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(7, 4)
        self.table = nn.Parameter(torch.randn(3, 4))
        self.bias = nn.Parameter(torch.zeros(7))  # a free parameter named "bias": decayed, like embedding_decoder/bias
        self.conv = nn.Conv2d(4, 4, 1)
        self.norm = nn.LayerNorm(4)
        self.bn = nn.BatchNorm1d(4)
        self.fc = nn.Linear(4, 7)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.table.sum(0)
        x = self.conv(x.transpose(1, 2)[..., None])[..., 0]
        x = self.bn(x).transpose(1, 2)
        return self.fc(self.norm(x)) + self.bias


def _reference_step(params, grads, state, step, lr, wd, decayed, b1=0.9, b2=0.999, eps=1e-6):
    """One official step, tensor by tensor (optax semantics, eps outside the square root, eps_root 0)."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        m, v = state.setdefault(i, (torch.zeros_like(p), torch.zeros_like(p)))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        state[i] = (m, v)
        u = (m / (1 - b1**step)) / (torch.sqrt(v / (1 - b2**step)) + eps)
        if decayed[i]:
            u = u + wd * p
        pn, un = p.norm(), u.norm()
        ratio = pn / un if (pn > 0 and un > 0) else torch.tensor(1.0)
        p -= lr * ratio * u


def test_lamb_matches_the_official_chain() -> None:
    torch.manual_seed(0)
    model = _Net().eval()  # BatchNorm on running statistics: in training mode it would cancel the table's gradient
    reference = copy.deepcopy(model)
    groups = param_groups(model, weight_decay=0.1)
    decayed_ids = {id(p) for p in groups[0]["params"]}
    opt = Lamb(groups, lr=0.01)
    ref_params = list(reference.parameters())
    decayed = [id(p) in decayed_ids for p in model.parameters()]
    state: dict = {}
    for step in range(1, 6):
        ids = torch.randint(0, 7, (2, 5))
        for net in (model, reference):
            net.zero_grad()
            net(ids).square().mean().backward()
        opt.step()
        with torch.no_grad():
            _reference_step(ref_params, [p.grad for p in ref_params], state, step, 0.01, 0.1, decayed)
    for (name, a), b in zip(model.named_parameters(), ref_params, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_weight_decay_skips_biases_of_layers_and_norms_only() -> None:
    model = _Net()
    decay, no_decay = param_groups(model, weight_decay=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == [
        "bias",
        "conv.weight",
        "embed.weight",
        "fc.weight",
        "table",
    ]
    assert sorted(names[id(p)] for p in no_decay["params"]) == [
        "bn.bias",
        "bn.weight",
        "conv.bias",
        "fc.bias",
        "norm.bias",
        "norm.weight",
    ]
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1


def test_zero_initialised_bias_moves() -> None:
    """Trust ratio 1 where ‖x‖ = 0 (optax): a zero bias takes a plain step of size lr·‖u‖."""
    layer = nn.Linear(3, 2)
    nn.init.zeros_(layer.bias)
    opt = Lamb(param_groups(layer, 0.0), lr=0.1)
    layer(torch.randn(4, 3)).sum().backward()
    opt.step()
    assert layer.bias.abs().min() > 0.05
