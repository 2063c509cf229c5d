"""Noise estimators: the masked MAD ignores sources and their wings; the local one also removes a background."""

import numpy as np
import pytest

from radioexplore.ingest.noise import local_rms, mad_rms, masked_rms, mesh_background, robust_rms
from radioexplore.simulation import add_point, convolve_beam


def noisy_field(seed=0, sources=0, size=256):
    rng = np.random.default_rng(seed)
    sky = np.zeros((size, size))
    for _ in range(sources):
        add_point(sky, *rng.uniform(0, size - 1, 2), 10 ** rng.uniform(1, 3))  # 10-1000 sigma
    return convolve_beam(sky, 5.2, 4.9, 0.0, rng=rng, noise_rms=1.0)


def test_all_estimators_agree_on_pure_noise():
    image = noisy_field()
    for method in ("masked", "local", "mad", "sigma_clip"):
        assert abs(robust_rms(image, method) - 1) < 0.06, method
    with pytest.raises(ValueError, match="unknown noise estimator 'std'"):
        robust_rms(image, "std")


def test_masked_rms_ignores_bright_sources_where_a_mad_reads_high():
    image = noisy_field(sources=120)  # a crowded crop: ~10% of its pixels on sources
    assert mad_rms(image) > 1.08
    assert abs(masked_rms(image) - 1) < 0.05


def test_local_rms_removes_smooth_emission_and_blanks_are_ignored():
    image = noisy_field(seed=1)
    yy, xx = np.mgrid[0:256, 0:256]
    halo = 6.0 * np.exp(-np.hypot(xx - 128, yy - 128) / 60)  # diffuse emission a few sigma bright
    assert masked_rms(image + halo) > 1.2
    assert abs(local_rms(image + halo) - 1) < 0.1
    blanked = image.copy()
    blanked[:, :100] = np.nan
    assert abs(masked_rms(blanked) - 1) < 0.08 and np.isnan(masked_rms(np.full((32, 32), np.nan)))


def test_mesh_background_follows_a_plane_to_the_edges():
    yy, xx = np.mgrid[0:200, 0:240].astype(np.float32)
    plane = 0.01 * xx - 0.02 * yy + 3
    assert np.abs(mesh_background(plane, 32) - plane).max() < 1e-3
