"""Fourier features follow DESIGN.md §3 exactly; learned tables slice by length."""

import math

import torch

from torchperceiver.core.position import FourierPositions, LearnedPositions, linear_positions, subsampled_positions


def test_linear_positions_include_endpoints():
    pos = linear_positions((3, 5))
    assert pos.shape == (3, 5, 2)
    assert pos[0, 0].tolist() == [-1.0, -1.0] and pos[-1, -1].tolist() == [1.0, 1.0]
    assert pos[1, 2].tolist() == [0.0, 0.0]


def test_fourier_channels_and_values():
    enc = FourierPositions(num_bands=64, max_resolution=(224, 224))
    feats = enc((224, 224))
    assert enc.num_channels == 258 and feats.shape == (224 * 224, 258)
    # Point (row 10, col 200): compare with the formula written out by hand.
    y, x = -1 + 2 * 10 / 223, -1 + 2 * 200 / 223
    f = torch.linspace(1, 112, 64, dtype=torch.float64)
    expected = torch.cat(
        [
            torch.tensor([y, x], dtype=torch.float64),
            torch.sin(math.pi * f * y),
            torch.sin(math.pi * f * x),
            torch.cos(math.pi * f * y),
            torch.cos(math.pi * f * x),
        ]
    )
    torch.testing.assert_close(feats[10 * 224 + 200].double(), expected, atol=2e-4, rtol=0)


def test_fourier_options_and_dims():
    assert FourierPositions(32, (16, 56, 56)).num_channels == 3 * 65
    sine = FourierPositions(4, (8,), concat_pos=False, sine_only=True)
    assert sine.num_channels == 4 and sine((8,)).shape == (8, 4)


def test_subsampled_positions_rule():
    pos = subsampled_positions(torch.tensor([0, 5, 11]), (3, 4))
    expected = torch.tensor([[-1.0, -1.0], [-1 + 2 / 3, -1 + 2 / 4], [-1 + 4 / 3, -1 + 6 / 4]])
    torch.testing.assert_close(pos, expected)


def test_learned_positions_slice():
    table = LearnedPositions(10, 4)
    assert table().shape == (10, 4) and torch.equal(table(3), table.table[:3])
