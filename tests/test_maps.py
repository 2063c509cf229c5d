import numpy as np
import pytest

from radioexplore.maps import MapConfig, compute_map


def _clusters(rng, n=600, d=32):
    centres = rng.normal(0, 5, (3, d))
    labels = rng.integers(0, 3, n)
    return (centres[labels] + rng.normal(0, 0.5, (n, d))).astype(np.float32), labels


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_map_keeps_clusters_apart(method, rng):
    x, labels = _clusters(rng)
    xy = compute_map(x, MapConfig(method=method, pca_dims=10))
    assert xy.shape == (len(x), 2) and np.isfinite(xy).all()
    centroids = np.array([xy[labels == k].mean(0) for k in range(3)])
    spread = max(np.linalg.norm(xy[labels == k] - centroids[k], axis=1).mean() for k in range(3))
    gaps = [np.linalg.norm(centroids[i] - centroids[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread


def test_large_runs_are_fitted_on_a_sample_and_the_rest_placed(rng):
    x, labels = _clusters(rng, n=3000)
    xy = compute_map(x, MapConfig(method="pca", sample_above=1000, sample_size=500))
    full = compute_map(x, MapConfig(method="pca"))
    assert np.isfinite(xy).all()
    # the sampled fit places every tile where the full fit would, up to a rotation of the plane
    pick = rng.choice(len(x), 200, replace=False)
    d_sampled = np.linalg.norm(xy[pick, None] - xy[None, pick], axis=-1).ravel()
    d_full = np.linalg.norm(full[pick, None] - full[None, pick], axis=-1).ravel()
    assert np.corrcoef(d_sampled, d_full)[0, 1] > 0.99


def test_too_few_tiles_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 5"):
        compute_map(np.zeros((3, 4), np.float32))
