"""The pixel threshold chosen on several calibration surveys pooled (radioexplore.segmentation.calibration)."""

import numpy as np
import pytest

from radioexplore.segmentation.calibration import THRESHOLD_GRID, best_threshold, iou_counts, pooled_iou


def _field(n_halo: int, p_halo: float, n_false: int, p_false: float) -> tuple[np.ndarray, np.ndarray]:
    """A made-up field: ``n_halo`` halo and as many relic truth pixels at probability ``p_halo`` (so the strict
    halo and relic IoU are equal), ``n_false`` empty pixels at ``p_false``, the rest empty at probability 0."""
    labels = np.zeros(1000, np.uint8)
    prob = np.zeros(1000)
    labels[:n_halo] = 1
    labels[n_halo : 2 * n_halo] = 2
    prob[: 2 * n_halo] = p_halo
    prob[2 * n_halo : 2 * n_halo + n_false] = p_false
    return prob.reshape(20, 50), labels.reshape(20, 50)


def test_several_calibration_surveys_pick_the_threshold_of_the_pooled_iou():
    # survey A (small): 20 halo pixels at p = 0.42, no false positive -> alone it wants t < 0.42
    # survey B (large): 200 halo pixels at p = 0.9, 100 false pixels at p = 0.58 -> alone it wants 0.60-0.85
    surveys = {"A": [_field(20, 0.42, 0, 0.0)], "B": [_field(200, 0.9, 100, 0.58)]}

    def counts_at(t, which=("A", "B")):
        return [iou_counts(prob > t, labels) for w in which for prob, labels in surveys[w]]

    alone_a, _ = best_threshold(lambda t: counts_at(t, ("A",)))
    alone_b, _ = best_threshold(lambda t: counts_at(t, ("B",)))
    pooled, scores = best_threshold(counts_at)
    assert alone_a == 0.30 and alone_b == 0.60  # the lowest of tied thresholds
    # pooled: t < 0.42 -> 220 / 320; 0.42-0.58 -> 200 / 320; 0.60-0.85 -> 200 / 220; >= 0.9 -> 0
    assert pooled == 0.60 and scores[0.60] == pytest.approx(200 / 220)
    assert scores[0.30] == pytest.approx(220 / 320) and scores[0.95] == 0.0
    assert pooled == max(THRESHOLD_GRID, key=lambda t: (pooled_iou(counts_at(t))["halo"], -t))
    # the mean of the per-survey IoU would have chosen otherwise: pooling weighs every truth pixel alike
    per_survey = {t: np.mean([pooled_iou(counts_at(t, (w,)))["halo"] for w in "AB"]) for t in THRESHOLD_GRID}
    assert max(per_survey, key=per_survey.get) == 0.30
    lone_halo, lone_scores = best_threshold(lambda t: [iou_counts(np.eye(5) > t, np.eye(5, dtype=np.uint8))])
    assert lone_halo == 0.30 and lone_scores[0.95] == 1.0  # relic IoU NaN (nothing there): left out of the mean


def test_iou_counts_are_strict_and_object_wise_and_pool_before_the_ratio():
    labels = np.zeros((10, 10), np.uint8)
    labels[0:2, 0:5] = 1  # halo, 10 px
    labels[5:7, 0:5] = 2  # relic, 10 px
    pred = np.zeros((10, 10), bool)
    pred[0:2, 0:5] = True  # the halo found
    pred[9, 5:10] = True  # a false blob, 5 px
    pred[5, 0:5] = True  # half the relic
    c = iou_counts(pred, labels)
    assert c["halo"] == (10, 15)  # the false blob counts against halos, the pixels on the relic do not
    assert c["halo_obj"] == (10, 10)  # object-wise: only the region touching the halo
    assert c["relic"] == (5, 15) and c["relic_obj"] == (5, 10)
    assert c["all"] == (15, 25)
    both = pooled_iou([c, {"halo": (0, 30)}])
    assert both["halo"] == pytest.approx(10 / 45) and both["relic"] == pytest.approx(5 / 15)


def test_an_empty_threshold_grid_says_what_to_give():
    with pytest.raises(ValueError, match="grid is empty"):
        best_threshold(lambda t: [], grid=())


def test_the_hysteresis_pair_is_chosen_on_the_pooled_iou_and_a_tie_goes_to_fewer_pixels():
    from radioexplore.segmentation.calibration import best_pair
    from radioexplore.segmentation.mask_rule import hysteresis_mask

    # a halo with a 0.9 core and a 0.6 rim (truth), and a coreless false blob at 0.6 beside it
    labels = np.zeros((20, 40), np.uint8)
    prob = np.zeros((20, 40))
    labels[2:18, 2:18] = 1
    prob[2:18, 2:18] = 0.6
    prob[6:14, 6:14] = 0.9
    prob[2:18, 24:34] = 0.6

    def counts_at(low, high):
        return [iou_counts(hysteresis_mask(prob, low, high), labels)]

    pairs = [(0.5, 0.85), (0.5, None), (0.85, None), (0.7, 0.85)]
    (low, high), scores = best_pair(counts_at, pairs)
    assert (low, high) == (0.5, 0.85) and scores[(0.5, 0.85)] == pytest.approx(1.0)  # rim kept, blob dropped
    # the plain 0.5 keeps the blob: halo 256 / 416, and the relic IoU (no relic truth) 0 / 160 joins the mean
    assert scores[(0.5, None)] == pytest.approx(256 / 416 / 2) and scores[(0.85, None)] == pytest.approx(64 / 256)
    # a tie: the higher mask threshold, then the higher core (fewer pixels flagged)
    tied, _ = best_pair(lambda low, high: [iou_counts(prob > 2, labels)], [(0.5, 0.85), (0.6, None), (0.6, 0.9)])
    assert tied == (0.6, 0.9)
