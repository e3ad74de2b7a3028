"""The optional per-frame, per-channel standardisation of the flow input (``normalize_frames``)."""

import torch

import torchperceiver as tp
from tensor_utils import max_abs_diff
from torchperceiver.models.flow.adapters import standardize_frames

TRAIN = (8, 12)


def _model(normalize: bool) -> tp.PerceiverIO:
    model = tp.build(
        "optical-flow",
        train_size=TRAIN,
        num_latents=8,
        latent_dim=16,
        num_layers=1,
        num_self_heads=2,
        num_bands=4,
        patch_dim=8,
        normalize_frames=normalize,
    ).eval()
    torch.nn.init.normal_(model.output_adapter.head.weight)  # the official head starts at zero flow
    return model


def _photometric(frames: torch.Tensor) -> torch.Tensor:
    """Frame 2 gets a per-channel gain and offset (brightness, contrast, colour), frame 1 is kept."""
    gain = torch.tensor([0.5, 0.8, 1.2])[:, None, None]
    offset = torch.tensor([0.2, -0.1, 0.05])[:, None, None]
    return torch.stack([frames[:, 0], frames[:, 1] * gain + offset], 1)


def test_standardize_frames_per_frame_and_channel():
    frames = torch.rand(3, 2, 3, *TRAIN) * torch.tensor([0.1, 1.0, 3.0])[:, None, None] + 0.5
    std = frames.std(dim=(-2, -1))
    out = standardize_frames(frames, eps=1e-3)
    assert out.mean(dim=(-2, -1)).abs().max() < 1e-5
    # eps keeps flat frames finite; it shrinks the result by std / (std + eps)
    assert max_abs_diff(out.std(dim=(-2, -1)), std / (std + 1e-3)) < 1e-5
    assert torch.isfinite(standardize_frames(torch.zeros(1, 2, 3, *TRAIN))).all()


def test_normalized_model_ignores_a_photometric_change_of_frame_2():
    model = _model(True)
    frames = torch.rand(2, 2, 3, *TRAIN) * 2 - 1
    with torch.no_grad():
        # equal up to eps (1e-2 against channel stds of about 0.3-0.7)
        assert max_abs_diff(model(frames), model(_photometric(frames))) < 0.05
        assert max_abs_diff(model(frames), model(frames.flip(3))) > 0.3  # the content still matters
        assert max_abs_diff(model(frames), model(frames.flip(1))) > 0.3  # and so does the frame order


def test_released_model_reads_frames_as_they_are(tmp_path):
    model = _model(False)
    assert model.config.input_adapter.normalize is False
    frames = torch.rand(1, 2, 3, *TRAIN) * 2 - 1
    with torch.no_grad():
        assert max_abs_diff(model(frames), model(_photometric(frames))) > 0.3
    normalized = _model(True)
    normalized.save_pretrained(tmp_path)
    loaded = tp.load(tmp_path).eval()
    assert loaded.config == normalized.config
    with torch.no_grad():
        assert torch.equal(loaded(frames), normalized(frames))
