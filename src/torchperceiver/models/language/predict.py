"""``predict classify`` for text models: each argument is one text; a pair is written ``"first [SEP] second"``.

Texts become byte ids (the literal ``[SEP]`` becomes the separator the pair was trained with), cut to the
model's ``max_seq_len`` and padded; a multi-task model answers every task (the shared command prints them).
"""

from __future__ import annotations

import torch
from torch import nn

from torchperceiver.commands import class_names, register_classify_inputs, top_classes
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.language.examples import encode_text, pad_ids
from torchperceiver.tokenizer import SEP, SPECIAL_TOKENS

SEP_TOKEN = SPECIAL_TOKENS[SEP]


@register_classify_inputs("text")
def text_inputs(model: PerceiverIO, inputs: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids [N, L], attention_mask [N, L])`` for ``inputs``; L = the longest, at most ``max_seq_len``."""
    max_len = int(getattr(model.config.input_adapter, "max_seq_len", 2048))
    rows = []
    for i, text in enumerate(inputs):
        if not text.strip():
            raise ValueError(f"inputs[{i}]: expected a non-empty text, got {text!r}")
        first, sep, second = text.partition(SEP_TOKEN)
        rows.append(encode_text(first.strip() if sep else text, second.strip() if sep else None, max_len))
    length = max(len(ids) for ids in rows)
    pairs = [pad_ids(ids, length) for ids in rows]
    return torch.stack([ids for ids, _ in pairs]), torch.stack([mask for _, mask in pairs])


@torch.no_grad()
def describe_all(model: nn.Module, text: str, text_pair: str | None, seq_len: int) -> str:
    """``text → task: class (p), …`` for every task of a multi-task model (eval mode)."""
    ids, mask = pad_ids(encode_text(text, text_pair, seq_len), seq_len)
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        outputs = model(ids[None].to(device), mask[None].to(device))
    finally:
        model.train(was_training)
    answers = []
    for task, output in outputs.items():
        output = output.float().cpu()
        if output.shape[1] == 1:
            answers.append(f"{task}: {float(output[0, 0]):.3f}")
        else:
            names = class_names(model, output.shape[1], task)  # type: ignore[arg-type]
            answers.append(f"{task}: {top_classes(output[0].softmax(-1), names, 1)}")
    shown = " ".join(text.split())[:60]
    return f"{shown} → {'; '.join(answers)}"
