"""Our detector: thresholds in units of the local rms, islands, beam-aware, counts inside a tile."""

import numpy as np

from radioexplore.ingest.detect import DetectConfig, count_in_box, detect_islands
from radioexplore.ingest.noise import masked_rms
from radioexplore.simulation import add_point, convolve_beam

BEAM = (5.2, 4.9)  # MeerKAT-like restoring beam in pixels
BEAM_AREA = np.pi / (4 * np.log(2)) * BEAM[0] * BEAM[1]


def field_with_sources(snrs, positions, noise=1.0, size=256, seed=0):
    sky = np.zeros((size, size))
    for s, (x, y) in zip(snrs, positions, strict=True):
        add_point(sky, x, y, s * noise)
    return convolve_beam(sky, *BEAM, 0.0, rng=np.random.default_rng(seed), noise_rms=noise)


def test_isolated_sources_above_threshold_are_found_where_they_are():
    positions = [(40.3, 50.7), (200.0, 60.0), (128.5, 128.5), (60.0, 210.0), (210.0, 200.0)]
    image = field_with_sources([8, 20, 100, 12, 2], positions)  # the last one is below 5 sigma
    found = detect_islands(image, masked_rms(image), BEAM_AREA)
    assert len(found) == 4
    for x, y in positions[:4]:
        assert np.hypot(found["x"] - x, found["y"] - y).min() <= 1.5


def test_the_threshold_is_in_units_of_the_noise_not_in_jansky():
    image = field_with_sources([8, 20, 100, 12], [(40, 50), (200, 60), (128, 128), (60, 210)], noise=4e-6)
    counts = [count_in_box(image * scale, 0, 256, beam_area_px=BEAM_AREA) for scale in (1.0, 1e3, 40.0)]
    assert counts == [4, 4, 4]  # the same sources at MeerKAT, ATCA or any other noise level


def test_noise_alone_gives_no_source_and_a_hot_pixel_is_not_a_source():
    image = field_with_sources([], [], seed=3)
    assert count_in_box(image, 0, 256, beam_area_px=BEAM_AREA) == 0
    image[100, 100] = 50.0  # a single-pixel defect is smaller than a fifth of the beam
    assert count_in_box(image, 0, 256, beam_area_px=BEAM_AREA) == 0


def test_only_sources_peaking_inside_the_box_count_and_islands_on_its_edge_are_whole():
    image = field_with_sources([30, 30], [(20.0, 100.0), (11.0, 140.0)])
    # the tile is x 12..255 with a 12 px margin: the first source counts, the second peaks in the margin
    assert count_in_box(image, 12, 232, beam_area_px=BEAM_AREA) == 1
    faint = field_with_sources([7.0], [(128, 128)], seed=5)
    assert count_in_box(faint, 0, 256, beam_area_px=BEAM_AREA) == 1
    assert count_in_box(faint, 0, 256, beam_area_px=BEAM_AREA, config=DetectConfig(peak_sigma=10.0)) == 0
