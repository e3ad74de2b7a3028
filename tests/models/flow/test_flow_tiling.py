"""Optical flow without HF: save/load, chunked decoding, tiled prediction, input errors."""

import pytest
import torch
from torch import nn

import torchperceiver as tp
from tensor_utils import max_abs_diff
from torchperceiver.models.flow.tiling import predict_flow, tile_starts

TRAIN = (16, 24)


def _frames(batch: int, height: int, width: int) -> torch.Tensor:
    return torch.rand(batch, 2, 3, height, width) * 2 - 1


def _small_model() -> tp.PerceiverIO:
    return tp.build(
        "optical-flow",
        train_size=TRAIN,
        num_latents=16,
        latent_dim=32,
        num_layers=2,
        num_self_heads=4,
        decoder_chunk_size=50,
    ).eval()


def test_preset_round_trips(tmp_path):
    model = _small_model()
    frames = _frames(2, *TRAIN)
    model.save_pretrained(tmp_path)
    loaded = tp.load(tmp_path).eval()
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(frames), model(frames))


def test_chunked_decoding_equals_unchunked():
    model = _small_model()
    frames = _frames(2, *TRAIN)
    with torch.no_grad():
        chunked = model(frames)
        model.decoder.chunk_size = None
        assert max_abs_diff(chunked, model(frames)) <= 1e-6


def test_tiled_flow_on_one_tile_equals_the_model():
    model = _small_model()
    frames = _frames(2, *TRAIN)
    with torch.no_grad():
        expected = model(frames)
    got = predict_flow(model, frames[:, 0], frames[:, 1], min_overlap=4)
    assert max_abs_diff(got, expected) <= 1e-6
    single = predict_flow(model, frames[1, 0], frames[1, 1], min_overlap=4)
    assert max_abs_diff(single, expected[1]) <= 1e-6


class _FirstFrameFlow(nn.Module):
    """A flow 'model' whose tiles agree by construction: the flow is frame 1's first two colour channels."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return frames[:, 0, :2]


class _TopLeftFlow(nn.Module):
    """Each tile's flow is constant: frame 1's colour-0 value at the tile's top-left pixel."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return frames[:, 0, :1, :1, :1].expand(-1, 2, *frames.shape[-2:])


def test_tiles_stitch_where_they_agree():
    frames = _frames(2, 41, 57)
    got = predict_flow(_FirstFrameFlow(), frames[:, 0], frames[:, 1], tile_size=TRAIN, min_overlap=5, tile_batch=3)
    assert max_abs_diff(got, frames[:, 0, :2]) <= 1e-6


def test_tile_weights_fall_off_toward_tile_edges():
    """Tiles 4×6 at columns 0 and 4 of a 4×10 image; at (1, 5) the weights are 1 (tile 0) and 2 (tile 1)."""
    frame1 = torch.arange(10.0).expand(3, 4, 10)
    got = predict_flow(_TopLeftFlow(), frame1, frame1, tile_size=(4, 6), min_overlap=2)
    assert got[0, 1, 5].item() == pytest.approx(8 / 3)
    assert torch.all(got[:, :, :4] == 0) and torch.all(got[:, :, 6:] == 4)


def test_batched_tiles_equal_single_images():
    model = _small_model()
    frames = _frames(2, 30, 50)
    batched = predict_flow(model, frames[:, 0], frames[:, 1], min_overlap=6, tile_batch=4)
    for b in range(2):
        single = predict_flow(model, frames[b, 0], frames[b, 1], min_overlap=6)
        assert max_abs_diff(batched[b], single) <= 1e-5


def test_tile_grid_matches_the_official_colab_on_sintel():
    assert tile_starts(436, 368, 20) == [0, 68]
    assert tile_starts(1024, 496, 20) == [0, 476, 528]
    assert tile_starts(368, 368, 20) == [0]


def test_flow_input_errors():
    model = _small_model()
    with pytest.raises(ValueError, match=r"frames: expected height × width = train_size \(16, 24\), got \(16, 25\)"):
        model(_frames(1, 16, 25))
    with pytest.raises(ValueError, match="frames: expected number of frames = 2"):
        model(torch.zeros(1, 3, 3, *TRAIN))
    with pytest.raises(ValueError, match="frames: expected colour channels = 3"):
        model(torch.zeros(1, 2, 4, *TRAIN))
    with pytest.raises(ValueError, match="frames: expected 5 dims"):
        model(torch.zeros(2, 3, *TRAIN))


@pytest.mark.parametrize(
    ("frame1", "frame2", "match"),
    [
        (torch.zeros(3, 20, 30), torch.zeros(3, 20, 31), r"frame2: expected the shape of frame1 \(3, 20, 30\)"),
        (torch.zeros(4, 20, 30), torch.zeros(4, 20, 30), "frame1: expected colour channels = 3"),
        (torch.zeros(20, 30), torch.zeros(20, 30), r"frame1: expected 3 dims \[3, H, W\] or 4 dims"),
        (torch.zeros(1, 1, 3, 20, 30), torch.zeros(1, 1, 3, 20, 30), "frame1: expected 3 dims"),
        (torch.zeros(3, 15, 30), torch.zeros(3, 15, 30), r"expected H × W of at least the tile size \(16, 24\)"),
        (torch.zeros(3, 20, 30, dtype=torch.long), torch.zeros(3, 20, 30), "frame1: expected a floating-point"),
    ],
)
def test_predict_flow_errors(frame1, frame2, match):
    with pytest.raises(ValueError, match=match):
        predict_flow(_small_model(), frame1, frame2, min_overlap=4)


def test_predict_flow_needs_a_tile_size():
    with pytest.raises(ValueError, match="tile_size: expected it given, or a flow model"):
        predict_flow(_FirstFrameFlow(), torch.zeros(3, 20, 30), torch.zeros(3, 20, 30))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(tile_batch=0), "tile_batch: expected >= 1, got 0"),
        (dict(min_overlap=16), r"min_overlap: expected >= 0 and less than the tile size \(16, 24\), got 16"),
        (dict(min_overlap=-1), "min_overlap: expected >= 0"),
    ],
)
def test_predict_flow_setting_errors(kwargs, match):
    frame = torch.zeros(3, 20, 30)
    with pytest.raises(ValueError, match=match):
        predict_flow(_FirstFrameFlow(), frame, frame, tile_size=TRAIN, **kwargs)
