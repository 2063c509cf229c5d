"""One island that is an X by itself: two crossed ridges through one peak read X; a straight double, a
V-shaped bent tail, a ring and a compact blend do not (ranking/crossing.py, ``single_island_x``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.crossing import X_ARMS, ArmConfig, arm_reach, arms, single_island_x
from radioexplore.ranking.morphology import X_EVIDENCE, MorphConfig, morph_evidence
from radioexplore.ranking.objects import OBJECT_COLUMNS, ObjectConfig, find_objects
from radioexplore.ranking.peculiar import describe_object
from tests.object_sky import beam_noise, blob, row_at

SIZE, FWHM, RMS = 640, 5.0, 1e-5
BEAM_AREA = 1.1331 * FWHM**2
X_AT, DOUBLE_AT, V_AT, WIDE_V_AT, RING_AT, BLEND_AT = (
    (140.0, 140.0),
    (480.0, 140.0),
    (140.0, 470.0),
    (330.0, 330.0),
    (480.0, 480.0),
    (330.0, 590.0),
)


def _ridge(xx, yy, x, y, pa, amp, half_length):
    """A ridge of emission from ``(x, y)`` along ``pa`` (rad), one beam wide, fading to 0.6 of ``amp`` at its end."""
    out = np.zeros_like(xx)
    for t in np.linspace(0.0, 1.0, 12):
        px, py = x + t * half_length * np.cos(pa), y + t * half_length * np.sin(pa)
        out = np.maximum(out, blob(xx, yy, px, py, amp * (1 - 0.4 * t), 0.8 * FWHM, 0.8 * FWHM, 0.0))
    return out


def sky(seed: int) -> np.ndarray:
    """Beam-correlated noise and six single islands: an X, a straight double, two bent tails, a ring, a blend."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    # the X: active lobes along +-x, 11 beams each way, crossed at 60 deg by fainter wings 7 beams each way,
    # both through one peak (the host)
    x, y = X_AT
    for pa in (0.0, np.pi):
        image += _ridge(xx, yy, x, y, pa, 30 * RMS, 55.0)
    for pa in (np.pi / 3, np.pi / 3 + np.pi):
        image += _ridge(xx, yy, x, y, pa, 12 * RMS, 35.0)
    image += blob(xx, yy, x, y, 40 * RMS, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    # a straight double: two bright lobes joined by a faint bridge through a core (one island, one axis)
    x, y = DOUBLE_AT
    for side in (-1, 1):
        image += blob(xx, yy, x + side * 50, y, 30 * RMS, 12.0, 6.0, 0.0)
    image += _ridge(xx, yy, x - 50, y, 0.0, 8 * RMS, 100.0)
    # bent tails: two arms leaving one core on one side (a V of 60 deg, a wide angle of 130 deg)
    for (x, y), opening in ((V_AT, np.pi / 3), (WIDE_V_AT, np.radians(130))):
        for sign in (-1, 1):
            image += _ridge(xx, yy, x, y, np.pi / 2 + sign * opening / 2, 20 * RMS, 55.0)
        image += blob(xx, yy, x, y, 40 * RMS, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    # a ring 12 beams across, brighter on one side
    x, y = RING_AT
    r, phi = np.hypot(xx - x, yy - y), np.arctan2(yy - y, xx - x)
    image += 10 * RMS * (1 + 0.4 * np.cos(phi)) * np.exp(-0.5 * ((r - 30.0) / 3.0) ** 2)
    # a compact blend: four compact sources within two beams of each other
    x, y = BLEND_AT
    for dx, dy in ((0, 0), (8, 3), (-4, 9), (6, -8)):
        image += blob(xx, yy, x + dx, y + dy, 30 * RMS, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    return image.astype(np.float32)


@pytest.fixture(scope="module", params=[1, 2, 3])
def table(request):
    return find_objects(sky(request.param), BEAM_AREA, ObjectConfig()).table


def test_two_crossed_ridges_through_one_peak_read_x(table):
    x = table[X_ARMS].to_numpy()
    i = row_at(table, *X_AT)
    # one island crossed at 60 deg (>= 45: full), times the wings' reach over 0.8 of the lobes' (about 0.8)
    assert x[i] >= 0.5
    assert X_ARMS in OBJECT_COLUMNS


@pytest.mark.parametrize(
    "where", [DOUBLE_AT, V_AT, WIDE_V_AT, RING_AT, BLEND_AT], ids=["double", "v", "wide", "ring", "blend"]
)
def test_a_double_a_bent_tail_a_ring_and_a_blend_do_not(table, where):
    near = np.hypot(table["x"] - where[0], table["y"] - where[1]).to_numpy() < 70
    assert near.any()
    assert table[X_ARMS].to_numpy()[near].max() == 0


def test_the_reach_profile_of_a_plus_has_four_arms():
    """A plus sign of 1-px-wide arms 20 px long (4 beams of 5 px): four arms 90 deg apart, sin 90 = 1."""
    xs = np.r_[np.arange(-20, 21), np.zeros(40, int)]
    ys = np.r_[np.zeros(41, int), np.r_[np.arange(-20, 0), np.arange(1, 21)]]
    reach = arm_reach(xs + 30, ys + 30, 30.0, 30.0, 5.0, ArmConfig())
    found = arms(reach, ArmConfig())
    assert len(found) == 4 and np.allclose(np.sort(found * 360.0 / reach.size), [0, 90, 180, 270])
    assert single_island_x(xs + 30, ys + 30, 30.0, 30.0, 5.0) == pytest.approx(1.0)
    # arms shorter than min_arm_beams are no arms; a crossing below min_crossing_deg is no X
    assert single_island_x(xs + 30, ys + 30, 30.0, 30.0, 5.0, ArmConfig(min_arm_beams=5.0)) == 0.0
    with pytest.raises(ValueError, match="min_crossing_deg"):
        ArmConfig(min_crossing_deg=0.0)


def test_x_evidence_takes_the_larger_of_three_islands_and_one():
    objects = pd.DataFrame({"x_crossing": [0.0, 0.9, 0.0, 0.3], X_ARMS: [0.8, 0.0, 0.0, 0.6]})
    as_is = MorphConfig(x_full_crossing_deg=90.0)  # the three islands' sine as it is
    assert morph_evidence(objects, as_is)[X_EVIDENCE].tolist() == pytest.approx([0.8, 0.9, 0.0, 0.6])
    no_arms = objects.drop(columns=[X_ARMS])  # a table from before the one-island reading
    assert morph_evidence(no_arms, as_is)[X_EVIDENCE].tolist() == pytest.approx([0.0, 0.9, 0.0, 0.3])
    # by default a crossing of 45 deg or more (sine >= 0.71) is full evidence, as for one island
    assert morph_evidence(objects)[X_EVIDENCE].tolist() == pytest.approx([0.8, 1.0, 0.0, 0.6])
    assert morph_evidence(no_arms)[X_EVIDENCE].tolist() == pytest.approx([0.0, 1.0, 0.0, 0.3 / np.sin(np.pi / 4)])
    with pytest.raises(ValueError, match="x_full_crossing_deg"):
        MorphConfig(x_full_crossing_deg=0.0)


def test_the_queue_names_a_one_island_x(table):
    i = row_at(table, *X_AT)
    assert describe_object(table.iloc[i]).startswith("X-shaped source (two crossed axes")
    near = np.flatnonzero(np.hypot(table["x"] - V_AT[0], table["y"] - V_AT[1]).to_numpy() < 70)
    assert len(near) and not any(describe_object(table.iloc[j]).startswith("X-shaped source") for j in near)


def _lines(angle_deg: float, half: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of two 1-px lines through (40, 40), along +x and at ``angle_deg`` to it, ``half`` px each way."""
    t = np.arange(-half, half + 1)
    a = np.radians(angle_deg)
    xs = np.r_[t, np.rint(t * np.cos(a))].astype(int) + 40
    ys = np.r_[np.zeros_like(t), np.rint(t * np.sin(a))].astype(int) + 40
    return xs, ys


@pytest.mark.parametrize(
    "angle, reading", [(90.0, 1.0), (60.0, 1.0), (38.0, np.sin(np.radians(38)) / np.sin(np.radians(45)))]
)
def test_a_clear_angle_reads_full_a_shallow_one_less(angle, reading):
    xs, ys = _lines(angle)
    assert single_island_x(xs, ys, 40.0, 40.0, 5.0) == pytest.approx(reading, abs=0.06)


def test_two_lines_crossing_below_the_least_angle_are_no_x():
    xs, ys = _lines(20.0)
    assert single_island_x(xs, ys, 40.0, 40.0, 5.0) == 0.0


def faint_x(seed: int) -> np.ndarray:
    """Beam-correlated noise and one plus-shaped X: four arms from 6 sigma fading to 3.6 sigma over 9 beams,
    most of their length between the island (3 sigma) and source (5 sigma) thresholds, round a bright host."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:200, 0:200].astype(float)
    image = beam_noise(rng, 200, FWHM, RMS)
    for pa in (0.0, np.pi, np.pi / 2, 3 * np.pi / 2):
        image += _ridge(xx, yy, 100.0, 100.0, pa, 6 * RMS, 45.0)
    image += blob(xx, yy, 100.0, 100.0, 9 * RMS, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    return image.astype(np.float32)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_x_of_arms_below_the_source_threshold_is_no_x(seed):
    """``ObjectConfig.x_arms_pixels``: arms read on the whole island find this faint X; read on the pixels at the
    source threshold (the default: an arm must be a detection) they find none, as on the striped, noise-drawn
    islands of a real ATCA field (benchmarks/README.md, issue 24, x-detected)."""
    image = faint_x(seed)
    island = find_objects(image, BEAM_AREA, ObjectConfig(x_arms_pixels="island")).table
    source = find_objects(image, BEAM_AREA, ObjectConfig()).table
    assert ObjectConfig().x_arms_pixels == "source"
    i, j = row_at(island, 100.0, 100.0), row_at(source, 100.0, 100.0)
    assert island[X_ARMS].to_numpy()[i] >= 0.5
    assert source[X_ARMS].to_numpy()[j] == 0.0
    with pytest.raises(ValueError, match="x_arms_pixels"):
        ObjectConfig(x_arms_pixels="outline")
