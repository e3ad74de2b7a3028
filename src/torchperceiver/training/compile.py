"""``train.compile: true``: ``torch.compile`` the model for training.

The model is compiled in place (``nn.Module.compile``), not wrapped in an ``OptimizedModule``: parameter
names, ``state_dict`` keys and checkpoints stay those of the eager model (no ``_orig_mod.`` prefix), so a
checkpoint from a compiled run loads into any model, compiled or not, and DDP/FSDP wrap the same module.

Shapes are compiled static (``dynamic=False``): each new input shape (the evaluation batch, another number
of masked bytes) compiles once more, up to torch's recompile limit, after which that shape runs eagerly.
With torch's default (a second shape recompiles as dynamic), that dynamic recompilation failed to build
(inductor ``CppCompileError``, torch 2.13 on this project's AVX-512/AMX CPU), and static kernels are the
faster ones anyway; tasks keep their shapes few (the MLM task rounds the number of decoded positions up to
a multiple of 8).
"""

from __future__ import annotations

from torch import nn


def compile_model(model: nn.Module, dynamic: bool = False) -> nn.Module:
    """Compile ``model``'s forward in place (inductor, default mode) and return it."""
    model.compile(dynamic=dynamic)
    return model
