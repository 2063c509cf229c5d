"""Far from every label, the predicted interest falls back to the prior (issue 24; ranking.far_prior). Data made here."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.blends import anomaly_quantile
from radioexplore.ranking.far_prior import label_reach, shrink_to_prior


def _corner_and_far_cluster(seed: int = 0):
    """30 tiles in one corner of the feature space, 20 of them labelled (interest 5 and 3, mean 4), and a cluster of
    40 unlabelled tiles far away whose anomaly scores span the whole list. Returns (emb, anomaly, ids, y, far)."""
    rng = np.random.default_rng(seed)
    corner = rng.normal(0.0, 1.0, size=(30, 6))
    far = rng.normal(0.0, 1.0, size=(40, 6)) + 40.0
    emb = np.vstack([corner, far]).astype(np.float32)
    anomaly = rng.random(70)
    ids = np.arange(20)
    y = np.where(ids % 2 == 0, 5.0, 3.0)
    return emb, anomaly, ids, y, np.arange(30, 70)


def _predicted(far_prior: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    emb, anomaly, ids, y, far = _corner_and_far_cluster()
    ranker = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0, far_prior=far_prior))
    out = ranker.rerank(dict(zip(ids.tolist(), y.tolist(), strict=True)))
    return out["predicted_interest"].to_numpy()[far], anomaly_quantile(anomaly)[far], y


def test_far_cluster_gets_the_labels_mean_without_the_option():
    predicted, q, y = _predicted(far_prior="off")
    assert abs(predicted.mean() - y.mean()) < 0.6  # a forest extrapolates about the labels' mean
    assert predicted.std() < 0.3  # and does not order the far tiles at all
    assert not np.allclose(predicted, 1.0 + 4.0 * q, atol=0.5)


def test_far_cluster_gets_the_priors_order_with_the_option():
    predicted, q, _ = _predicted(far_prior="quantile")
    np.testing.assert_allclose(predicted, 1.0 + 4.0 * q, atol=1e-3)  # the anomaly quantile on the 1-5 scale
    assert spearmanr(predicted, q).statistic > 0.999


def test_reach_is_one_on_labels_and_decays_with_distance():
    emb, _, ids, _, far = _corner_and_far_cluster()
    reach = label_reach(emb, ids)
    assert np.all(reach[ids] == 1.0)
    assert reach[far].max() < 1e-6
    # along a line away from two labels one unit apart, the weight falls: exp(-d^2 / 2) in the labels' spacing
    line = np.array([[0.0], [1.0], [2.0], [3.0], [5.0]], dtype=np.float32)
    got = label_reach(line, np.array([0, 1]))
    np.testing.assert_allclose(got, [1.0, 1.0, np.exp(-0.5), np.exp(-2.0), np.exp(-8.0)], rtol=1e-5)


def test_one_label_has_no_length_scale_and_changes_nothing():
    emb, _, _, _, _ = _corner_and_far_cluster()
    assert np.all(label_reach(emb, np.array([3])) == 1.0)
    predicted = np.array([4.0, 4.0])
    np.testing.assert_allclose(shrink_to_prior(predicted, np.array([0.0, 1.0]), np.array([1.0, 0.0])), [4.0, 5.0])


def test_lowest_prior_sends_the_far_cluster_to_the_bottom_of_the_scale():
    predicted, _, _ = _predicted(far_prior="lowest")
    np.testing.assert_allclose(predicted, 1.0, atol=1e-3)


def test_unknown_prior_is_refused():
    with pytest.raises(ValueError, match="far_prior"):
        ActiveConfig(far_prior="mean")
