import numpy as np
import pytest

from radioexplore.space.maps import MapConfig, compute_map, neighbour_placer


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


def test_sampled_tsne_places_the_rest_among_their_own_cluster(rng):
    x, labels = _clusters(rng, n=2000)
    xy = compute_map(x, MapConfig(method="tsne", pca_dims=10, sample_above=1000, sample_size=400))
    assert xy.shape == (2000, 2) and np.isfinite(xy).all()
    centroids = np.array([xy[labels == k].mean(0) for k in range(3)])
    # every tile, fitted or placed, lies nearer its own cluster's centre than any other's
    nearest = np.argmin(np.linalg.norm(xy[:, None] - centroids[None], axis=-1), axis=1)
    assert (nearest == labels).mean() > 0.99
    # placed tiles spread over their cluster rather than piling onto one fitted point
    assert len(np.unique(xy.round(3), axis=0)) > 1500


def test_neighbour_placement_lands_beside_the_nearest_fitted_points(rng):
    # two groups of fitted rows in different directions, drawn at two places on the map
    a, b = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    fitted = np.vstack([a + 0.05 * rng.normal(size=(100, 8)), b + 0.05 * rng.normal(size=(100, 8))]).astype(np.float32)
    coords = np.vstack([rng.normal([-10, 0], 0.5, (100, 2)), rng.normal([10, 0], 0.5, (100, 2))]).astype(np.float32)
    place = neighbour_placer(fitted, coords, k=10)
    new = np.vstack([a + 0.05 * rng.normal(size=(20, 8)), b + 0.05 * rng.normal(size=(20, 8))]).astype(np.float32)
    xy = place(new)
    assert np.abs(xy[:20] - [-10, 0]).max() < 2 and np.abs(xy[20:] - [10, 0]).max() < 2
    # a row leaning towards a: it joins a's group, not the gap between the groups
    assert place((0.8 * a + 0.3 * b)[None])[0, 0] < -8


def test_unknown_placement_is_a_clear_error():
    with pytest.raises(ValueError, match="place must be one of"):
        compute_map(np.zeros((30, 4), np.float32), MapConfig(place="teleport"))
