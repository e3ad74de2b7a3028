"""Flow metrics on hand-made cases, and the colour wheel's known colours."""

import numpy as np
import pytest
import torch

from torchperceiver.models.flow.metrics import averages, flow_metrics
from torchperceiver.models.flow.visualize import as_hw2, flow_to_rgb


def test_epe_accuracy_and_fl_all_by_hand():
    target = torch.zeros(1, 2, 1, 4)
    target[0, 0] = torch.tensor([10.0, 100.0, 0.0, 0.0])
    flow = target.clone()
    flow[0, 0, 0, 0] += 0.5  # EPE 0.5: accurate at 1 px
    flow[0, 1, 0, 1] += 4.0  # EPE 4 > 3 px but < 5 % of 100 px: not a KITTI outlier
    flow[0, :, 0, 2] = torch.tensor([3.0, 4.0])  # EPE 5 on zero flow: an outlier
    valid = torch.tensor([[[True, True, True, False]]])  # the last pixel (EPE 0) is left out
    out = averages(flow_metrics(flow, target, valid))
    assert out["epe"] == pytest.approx((0.5 + 4 + 5) / 3)
    assert out["acc_1px"] == pytest.approx(1 / 3)
    assert out["acc_3px"] == pytest.approx(1 / 3)
    assert out["acc_5px"] == pytest.approx(2 / 3)  # EPE 5 is not < 5
    assert out["fl_all"] == pytest.approx(1 / 3)


def test_metrics_are_sums_with_counts():
    target = torch.ones(2, 2, 3, 3)
    sums = flow_metrics(torch.zeros_like(target), target)
    total, count = sums["epe"]
    assert count == 18 and total == pytest.approx(18 * 2**0.5)


def test_metric_shape_errors():
    with pytest.raises(ValueError, match="target"):
        flow_metrics(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 4))
    with pytest.raises(ValueError, match="valid"):
        flow_metrics(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), torch.ones(1, 3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[\.\.\., 2, H, W\]"):
        flow_metrics(torch.zeros(1, 3, 3, 3), torch.zeros(1, 3, 3, 3))


def test_colour_wheel_known_colours():
    # Baker et al.'s wheel: right red, down yellow, left cyan-blue, up violet; zero white; unit length saturated.
    flow = np.zeros((1, 6, 2), np.float32)
    flow[0, 0] = [1, 0]
    flow[0, 1] = [0, 1]
    flow[0, 2] = [-1, 0]
    flow[0, 3] = [0, -1]
    flow[0, 5] = [0.5, 0]
    rgb = flow_to_rgb(flow, max_flow=1.0)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 6, 3)
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert tuple(rgb[0, 1]) == (255, 229, 0)
    assert tuple(rgb[0, 2]) == (0, 209, 255)
    assert tuple(rgb[0, 3]) == (88, 0, 255)
    assert tuple(rgb[0, 4]) == (255, 255, 255)
    assert tuple(rgb[0, 5]) == (255, 127, 127)  # half length: half saturated red


def test_colour_wheel_layouts_and_invalid():
    torch_flow = torch.zeros(2, 3, 4)
    torch_flow[0] = 2.0
    assert as_hw2(torch_flow).shape == (3, 4, 2)
    valid = np.ones((3, 4), bool)
    valid[0, 0] = False
    rgb = flow_to_rgb(torch_flow, valid=valid)
    assert tuple(rgb[0, 0]) == (0, 0, 0) and tuple(rgb[1, 1]) == (255, 0, 0)
    with pytest.raises(ValueError, match="flow"):
        as_hw2(np.zeros((3, 3, 3)))
