"""The paper's augmentation on small batches: shapes, soft labels that sum to one, a deterministic eval view."""

import pytest
import torch

from torchperceiver.models.vision.augment import AugmentConfig, EvalTransform, TrainAugment, normalization

PAPER_SMALL = dict(crop_size=24)  # the paper's settings (RRC, flip, RandAugment 4/5, MixUp/CutMix 0.2), 24 px


def _batch(n=6, channels=3, size=32):
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8), torch.arange(n) % 5


def test_paper_augmentation_shapes_and_soft_labels():
    torch.set_num_threads(1)
    augment = TrainAugment(AugmentConfig(**PAPER_SMALL), num_classes=5, channels=3)
    images, labels = _batch()
    for _ in range(3):  # MixUp and CutMix are drawn per batch
        x, targets = augment(images, labels)
        assert x.shape == (6, 3, 24, 24) and x.dtype == torch.float32 and torch.isfinite(x).all()
        assert targets.shape == (6, 5) and (targets >= 0).all()
        torch.testing.assert_close(targets.sum(-1), torch.ones(6))


@pytest.mark.parametrize("mix", ["mixup", "cutmix"])
def test_mixing_blends_two_labels_by_the_same_weight(mix):
    cfg = AugmentConfig(
        crop="center",
        crop_size=32,
        hflip=False,
        randaugment_layers=0,
        mixup_alpha=0.2 if mix == "mixup" else 0.0,
        cutmix_alpha=0.2 if mix == "cutmix" else 0.0,
    )
    augment = TrainAugment(cfg, num_classes=5, channels=1)
    images = torch.stack(
        [torch.full((1, 32, 32), 0, dtype=torch.uint8), torch.full((1, 32, 32), 255, dtype=torch.uint8)]
    )
    labels = torch.tensor([0, 1])
    x, targets = augment(images, labels)
    torch.testing.assert_close(targets.sum(-1), torch.ones(2))
    # Image 0 is all 0 (normalised -1) and image 1 all 255 (+1): the mean pixel tells the share of image 1.
    share_of_image_1 = (x[0].mean() + 1) / 2
    torch.testing.assert_close(share_of_image_1, targets[0, 1], atol=1e-5, rtol=0)


def test_grey_images_cannot_take_randaugment():
    with pytest.raises(ValueError, match="randaugment_layers: expected 0 for 1-channel images"):
        TrainAugment(AugmentConfig(crop_size=24), num_classes=5, channels=1)
    with pytest.raises(ValueError, match=r"augment\.crop_scale"):
        AugmentConfig(crop_scale=(0.5, 0.1))


def test_eval_is_a_deterministic_centre_crop():
    images, _ = _batch(size=36)
    view = EvalTransform(32, channels=3)
    first, second = view(images), view(images)
    torch.testing.assert_close(first, second)
    mean, std = normalization(3)
    expected = (images[:, :, 2:34, 2:34].float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(first, expected)
