"""Shape features that name peculiar morphologies: a ring with a hole, two crossed axes, size in beams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from radioexplore.ranking.object_shape import MORPHOLOGY_FEATURES, axis_ratio, cross_contrast, morphology_features
from radioexplore.ranking.objects import SHAPE_FEATURES, find_objects
from radioexplore.ranking.peculiar import describe_object
from radioexplore.ranking.ring import ring_shell
from tests.object_sky import beam_noise

FWHM, N = 5.0, 160


def island(image: np.ndarray, level: float = 3.0) -> dict[str, float]:
    """:func:`morphology_features` of the pixels of ``image`` (S/N units) above ``level``."""
    ys, xs = np.nonzero(image > level)
    w = image[ys, xs]
    cx, cy = float((xs * w).sum() / w.sum()), float((ys * w).sum() / w.sum())
    centre = float(image[int(round(cy)), int(round(cx))])
    return morphology_features(xs, ys, w, cx, cy, centre, FWHM)


def shell(image: np.ndarray, level: float = 3.0) -> float:
    """:func:`ring_shell` of the pixels of ``image`` (S/N units) above ``level``."""
    ys, xs = np.nonzero(image > level)
    w = image[ys, xs]
    cx, cy = float((xs * w).sum() / w.sum()), float((ys * w).sum() / w.sum())
    return ring_shell(xs, ys, w, cx, cy, image, FWHM)


def beam(image: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(image, FWHM / 2.3548) * (2 * np.pi * (FWHM / 2.3548) ** 2)


def lobes(angles_deg, lengths, fluxes) -> np.ndarray:
    """Lines of emission from the centre at ``angles_deg`` (S/N after the beam ~ flux per px)."""
    img = np.zeros((N, N))
    for a, length, f in zip(angles_deg, lengths, fluxes, strict=True):
        t = np.linspace(2, length, int(length) * 2)
        x = (N / 2 + t * np.cos(np.deg2rad(a))).astype(int)
        y = (N / 2 + t * np.sin(np.deg2rad(a))).astype(int)
        img[y, x] += f
    return beam(img)


def ring(radius: float = 28.0, gap_deg: float = 0.0) -> np.ndarray:
    yy, xx = np.mgrid[0:N, 0:N] - N / 2
    r, phi = np.hypot(xx, yy), np.degrees(np.arctan2(yy, xx)) % 360
    img = 12.0 * np.exp(-0.5 * ((r - radius) / 2.0) ** 2)
    img[phi < gap_deg] = 0.0  # an open ring: a horseshoe
    return img


def lopsided_ring(radius: float = 28.0, lopsided: float = 0.4, core: float = 0.0) -> np.ndarray:
    """An odd radio circle as simulated: a thin shell brighter on one side, optionally a point at its centre."""
    yy, xx = np.mgrid[0:N, 0:N] - N / 2
    r, phi = np.hypot(xx, yy), np.arctan2(yy, xx)
    img = 12.0 * np.exp(-0.5 * ((r - radius) / 2.0) ** 2) * (1 + lopsided * np.cos(phi))
    point = np.zeros((N, N))
    point[N // 2, N // 2] = core
    return img + beam(point)


def bent_tail(size: float = 56.0, opening_deg: float = 60.0, core: float = 40.0) -> np.ndarray:
    """A wide- or narrow-angle tail: a core at the apex, two jets leaving it at +-opening from the tail
    axis and swept downstream, fading along their length (as the simulator's ``bent``)."""
    img = np.zeros((N, N))
    x0 = y0 = N / 2 - size / 4
    img[int(y0), int(x0)] += core
    wind = np.deg2rad(90.0)
    for sign in (1, -1):
        direction, px, py = wind + np.pi + sign * (np.pi - np.deg2rad(opening_deg)), x0, y0
        for i in range(int(size)):
            direction += 0.08 * np.angle(np.exp(1j * (wind - direction)))
            px, py = px + np.cos(direction), py + np.sin(direction)
            img[int(py), int(px)] += 6.0 * np.exp(-i / size / 0.6)
    return beam(img)


def disc(radius: float = 30.0) -> np.ndarray:
    yy, xx = np.mgrid[0:N, 0:N] - N / 2
    return 15.0 * np.exp(-np.hypot(xx, yy) / (radius / 3))


def test_the_forest_sees_the_morphology_features():
    assert set(MORPHOLOGY_FEATURES) <= set(SHAPE_FEATURES)


@pytest.mark.parametrize("gap", [0.0, 60.0])
def test_a_ring_with_a_hole_covers_its_centre_and_a_filled_disc_or_a_double_does_not(gap):
    ringed = island(ring(gap_deg=gap))["ring_coverage"]
    assert ringed >= 0.7
    assert island(disc())["ring_coverage"] <= 0.1  # round but full: a halo is no ring
    assert island(lobes([10, 190], [40, 40], [6, 6]))["ring_coverage"] <= 0.35  # a straight double


def test_a_ring_whose_flux_sits_in_one_bright_knot_is_less_of_a_ring():
    even = island(ring(gap_deg=60.0))["ring_coverage"]
    knotted = ring(gap_deg=60.0)
    knotted[N // 2 - 6 : N // 2 + 6, N // 2 + 22 : N // 2 + 34] *= 40.0  # a bright core on the arc (a WAT)
    assert island(knotted)["ring_coverage"] < 0.6 * even


@pytest.mark.parametrize("opening", [20.0, 60.0, 100.0])
@pytest.mark.parametrize("core", [5.0, 40.0])
def test_a_bent_tail_is_less_of_a_shell_than_a_lopsided_ring_of_its_size(opening, core):
    # both curve round an empty middle (ring_coverage reads both high); the tail's brightest beam (its
    # core and jet bases) sits at the apex and it fades along its tails, the shell is bright all round
    ring_, tail = lopsided_ring(), bent_tail(opening_deg=opening, core=core)
    assert shell(ring_) >= 0.5
    assert shell(tail) < 0.5 * shell(ring_)
    if opening >= 60:
        assert island(tail)["ring_coverage"] >= 0.5 * island(ring_)["ring_coverage"]  # what ring_coverage misses


def test_a_shell_is_closed_hollow_and_resolved():
    hollow = shell(lopsided_ring())
    assert shell(lopsided_ring(core=5.0)) >= 0.9 * hollow  # a faint host at the centre is allowed
    assert shell(lopsided_ring(core=40.0)) < 0.6 * hollow  # a core as bright as the rim is not
    assert shell(ring(gap_deg=120.0)) < 0.8 * shell(ring())  # open on a third of its round
    assert shell(disc()) == 0.0  # round but full: a halo is no shell
    assert shell(lobes([10, 190], [40, 40], [6, 6])) <= 0.05  # a double: hotspots at its ends, two sectors
    assert shell(lopsided_ring(radius=6.0)) == 0.0  # rim under two beams out: no resolved inside


def test_find_objects_keeps_the_shell_beside_the_coverage_and_the_queue_words_use_it():
    rng = np.random.default_rng(0)
    image = beam_noise(rng, 256, FWHM)
    image[48:208, 48:208] += lopsided_ring()
    found = find_objects(image.astype(np.float32), 1.1331 * FWHM**2).table
    best = found.loc[found["area_beams"].idxmax()]
    assert best["ring_shell"] >= 0.4
    tail = pd.Series(dict(island(bent_tail()), ring_shell=shell(bent_tail())))
    assert tail["ring_coverage"] >= 0.5  # ring_coverage alone would call the bent tail ring-like
    assert describe_object(tail) != "ring-like object"
    assert describe_object(best) == "ring-like object"


def test_two_crossed_axes_stand_out_and_a_straight_double_or_a_ring_do_not():
    x_shaped = island(lobes([10, 190, 75, 255], [40, 40, 30, 30], [6, 6, 3, 3]))["cross_contrast"]
    straight = island(lobes([10, 190], [40, 40], [6, 6]))["cross_contrast"]
    circle = island(ring())["cross_contrast"]
    assert x_shaped >= 0.12  # wings with a third of the lobes' flux per length
    assert straight <= 0.05 and circle <= 0.1
    assert x_shaped > 3 * max(straight, circle)


def test_cross_contrast_needs_a_valley_between_the_axes():
    phi = np.deg2rad(np.arange(0, 360, 1.0))
    assert cross_contrast(phi, np.ones_like(phi)) == pytest.approx(0.0, abs=0.05)  # every axis alike
    two = np.deg2rad(np.r_[np.full(50, 20.0), np.full(50, 200.0), np.full(30, 100.0), np.full(30, 280.0)])
    assert cross_contrast(two, np.ones_like(two)) == pytest.approx(0.6, abs=0.05)


def test_extent_and_surface_brightness_are_in_beams_and_snr():
    big_faint = island(lobes([0, 180], [70, 70], [1.5, 1.5]), level=1.0)
    small_bright = island(lobes([0, 180], [15, 15], [20, 20]))
    assert big_faint["extent_beams"] == pytest.approx(2 * 70 / FWHM, rel=0.15)
    assert small_bright["extent_beams"] < big_faint["extent_beams"] / 3
    assert small_bright["surface_snr"] > 3 * big_faint["surface_snr"]


def test_axis_ratio_of_a_line_and_a_disc():
    ys, xs = np.nonzero(disc() > 3)
    assert axis_ratio(xs, ys) == pytest.approx(1.0, abs=0.05)
    assert axis_ratio(np.arange(40), np.zeros(40)) > 20


def test_find_objects_gives_a_ring_its_coverage():
    rng = np.random.default_rng(0)
    image = beam_noise(rng, 256, FWHM)
    image[48:208, 48:208] += ring(gap_deg=40.0)
    found = find_objects(image.astype(np.float32), 1.1331 * FWHM**2).table
    best = found.loc[found["area_beams"].idxmax()]
    assert best["ring_coverage"] >= 0.6 and best["cross_contrast"] <= 0.2


def test_the_queue_names_a_ring_and_an_x_shape_in_words():
    x_shaped = island(lobes([10, 190, 75, 255], [40, 40, 30, 30], [6, 6, 3, 3]))
    assert describe_object(pd.Series(island(ring(gap_deg=60.0)))) == "ring-like object"
    assert describe_object(pd.Series(x_shaped)).startswith("X-shaped object")
    assert not describe_object(pd.Series(island(lobes([10, 190], [40, 40], [6, 6])))).startswith(("ring", "X"))
