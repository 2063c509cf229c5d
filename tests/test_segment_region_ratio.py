"""The detection ratio R with the mask regions touching the aperture (clusters.region_ratio, option region_reach)."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.segmentation.clusters import R_THRESHOLD, detection_ratio, region_ratio
from radioexplore.segmentation.run import SegmentConfig, _cluster_scores


def _relic_field() -> tuple[np.ndarray, float, float, float]:
    """A 200 px map, cluster at the centre, R500 = 50 px; a relic arc at 0.9-1.3 R500 with 6% of it inside R500."""
    n, c, r500 = 200, 100.0, 50.0
    yy, xx = np.mgrid[:n, :n]
    d = np.hypot(xx - c, yy - c)
    angle = np.degrees(np.arctan2(yy - c, xx - c))
    prob = np.full((n, n), 0.002, np.float32)  # the network's background
    prob[(d > 49) & (d < 65) & (np.abs(angle) < 35)] = 0.95  # the relic, mostly beyond R500
    return prob, c, c, r500


def test_a_peripheral_relic_counts_with_its_region_and_a_halo_is_unchanged():
    prob, x, y, r500 = _relic_field()
    plain, n = detection_ratio(prob, x, y, r500)
    assert plain < R_THRESHOLD  # within R500 alone the relic cannot be detected
    reached, n2 = region_ratio(prob, x, y, r500, 0.85, 1.5)
    assert n2 == n and reached >= R_THRESHOLD
    outside = (prob > 0.85) & (np.hypot(*np.mgrid[:200, :200] - np.array([y, x])[:, None, None]) > r500)
    assert reached == pytest.approx(plain + prob[outside].sum() / n, rel=1e-6)  # all of it lies within 1.5 R500
    # reach 1 is the aperture alone; a shorter reach counts less of the relic
    assert region_ratio(prob, x, y, r500, 0.85, 1.0)[0] == pytest.approx(plain)
    assert plain < region_ratio(prob, x, y, r500, 0.85, 1.1)[0] < reached
    # a halo inside the aperture: nothing touches from outside, R as before
    halo = np.full((200, 200), 0.002, np.float32)
    halo[80:120, 80:120] = 0.9
    assert region_ratio(halo, x, y, r500, 0.85, 1.5)[0] == pytest.approx(detection_ratio(halo, x, y, r500)[0])


def test_regions_that_do_not_touch_the_aperture_and_sub_threshold_pixels_add_nothing():
    prob, x, y, r500 = _relic_field()
    prob[prob > 0.9] = 0.0
    prob[100:110, 155:170] = 0.95  # a region at 1.1-1.4 R500 that does not touch R500
    prob[40:60, 40:100] = 0.5  # below the mask threshold, touching the aperture: no region
    plain = detection_ratio(prob, x, y, r500)[0]
    assert region_ratio(prob, x, y, r500, 0.85, 1.5)[0] == pytest.approx(plain)
    blank = prob.copy()
    blank[:, :] = np.nan
    assert np.isnan(region_ratio(blank, x, y, r500, 0.85, 1.5)[0])
    with pytest.raises(ValueError, match="reach is in aperture radii"):
        region_ratio(prob, x, y, r500, 0.85, 0.5)


def test_segment_scores_a_cluster_with_the_option():
    prob, x, y, r500 = _relic_field()

    class Image:
        nx = ny = 200
        pixel_arcsec = 6.0

        def world_to_pixel(self, ra, dec):
            return np.array([x]), np.array([y])

    table = pd.DataFrame({"name": ["c"], "ra": [0.0], "dec": [0.0], "r_pix": [r500]})
    off = _cluster_scores(table, prob, Image(), "f", SegmentConfig(threshold=0.85, region_reach=None))[0]["R"]
    on = _cluster_scores(table, prob, Image(), "f", SegmentConfig(threshold=0.85, region_reach=1.5))[0]["R"]
    assert off < R_THRESHOLD <= on


def test_the_default_counts_regions_out_to_1_5_r500():
    assert SegmentConfig().region_reach == 1.5
