"""The strict soft Dice per kind of diffuse emission (segment-train --region-loss dice_kind)."""

import numpy as np
import pytest
import torch

from radioexplore.models import build_segmenter
from radioexplore.segmentation.kind_dice import kind_dice_loss
from radioexplore.segmentation.train import SegmentRecipe, segment_loss, train_steps
from radioexplore.ssl.processes import setup_processes

torch.set_num_threads(1)

HALO, RELIC = 1, 2


def _halo_and_thin_relic() -> torch.Tensor:
    """Kind codes of one 96 px crop: a halo disc of ~1260 px and a relic arc 2 px thin of ~125 px."""
    yy, xx = np.mgrid[:96, :96]
    r = np.hypot(yy - 48, xx - 48)
    labels = np.zeros((96, 96), np.float32)
    labels[r < 20] = HALO
    labels[(r > 38) & (r < 40) & (xx > 48) & (yy < 48)] = RELIC
    return torch.from_numpy(labels)[None, None]


def _found(labels: torch.Tensor, *codes: int) -> torch.Tensor:
    """Logits that find exactly the truth of ``codes`` (far on their side of 0), nothing else."""
    hit = torch.zeros_like(labels, dtype=torch.bool)
    for code in codes:
        hit |= labels == code
    return torch.where(hit, 30.0, -30.0)


def test_each_kind_counts_once_whatever_its_pixel_count():
    labels = _halo_and_thin_relic()
    assert (labels == HALO).sum() > 6 * (labels == RELIC).sum()
    missed_relic = float(kind_dice_loss(_found(labels, HALO), labels))
    missed_halo = float(kind_dice_loss(_found(labels, RELIC), labels))
    assert missed_relic == pytest.approx(0.5, abs=0.01)  # one kind of two missed: half the loss
    assert missed_halo == pytest.approx(0.5, abs=0.01)
    assert float(kind_dice_loss(_found(labels, HALO, RELIC), labels)) == pytest.approx(0.0, abs=1e-3)
    # the pooled Dice of seed 004 charges the thin relic a small part of what it charges the halo
    binary = (labels > 0).float()
    pooled = {
        name: float(segment_loss(logits, binary) - torch.nn.functional.binary_cross_entropy_with_logits(logits, binary))
        for name, logits in (("relic", _found(labels, HALO)), ("halo", _found(labels, RELIC)))
    }
    assert pooled["relic"] < 0.15 < 0.6 < pooled["halo"]


def test_the_dice_of_a_kind_is_strict_as_the_benchmark_iou():
    labels = _halo_and_thin_relic()
    # a prediction on the relic's truth is not a false positive of the halo; one on empty sky is, of both kinds
    on_relic = float(kind_dice_loss(_found(labels, HALO, RELIC), labels))
    sky = _found(labels, HALO, RELIC)
    sky[..., :10, :10] = 30.0
    assert float(kind_dice_loss(sky, labels)) > on_relic + 0.01
    # no diffuse truth in the batch: every predicted pixel is penalised, none is free
    empty = torch.zeros_like(labels)
    assert float(kind_dice_loss(torch.full_like(labels, -30.0), empty)) == pytest.approx(0.0, abs=1e-6)
    assert float(kind_dice_loss(sky, empty)) > 0.9


def test_segment_loss_reads_kind_codes_and_training_lowers_it(rng):
    yy, xx = np.mgrid[:64, :64]
    y = np.zeros((8, 64, 64), np.float32)
    for i in range(8):
        y[i][(xx - rng.uniform(20, 44)) ** 2 + (yy - rng.uniform(20, 44)) ** 2 < 12**2] = HALO
        y[i][(np.abs(xx - rng.uniform(4, 60)) < 2) & (yy > 8) & (yy < 56) & (y[i] == 0)] = RELIC
    x = rng.normal(0, 0.3, y.shape) + 0.8 * (y > 0)
    x, y = (torch.tensor(a[:, None], dtype=torch.float32) for a in (x, y))
    perfect = 30.0 * (2 * (y > 0).float() - 1)
    assert float(segment_loss(perfect, y, region="dice_kind")) == pytest.approx(0.0, abs=1e-6)
    # the other region terms read any code > 0 as diffuse: the same loss as on the 0/1 mask
    assert float(segment_loss(perfect * 0.01, y)) == pytest.approx(float(segment_loss(perfect * 0.01, (y > 0).float())))
    torch.manual_seed(0)
    model = build_segmenter("unet_small")
    with torch.no_grad():
        before = float(segment_loss(model(x), y, region="dice_kind"))
    recipe = SegmentRecipe(steps=4, batch_size=8, lr=5e-3, region_loss="dice_kind")
    train_steps(model, _Fixed(x, y), recipe, setup_processes("cpu"))
    with torch.no_grad():
        after = float(segment_loss(model(x), y, region="dice_kind"))
    assert after < before


class _Fixed:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def batch(self, n):
        return self.x[:n], self.y[:n]
