"""The labels' artefact classifier read at the labels' own share of ARTEFACT (``ActiveConfig.teach_prevalence``):
one ARTEFACT label among nine others must not make every tile unlike both half an artefact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from radioexplore.ranking.active import ActiveConfig
from radioexplore.ranking.teach import artefact_probability, at_prevalence


def test_at_prevalence_moves_balanced_odds_to_the_share():
    p = np.array([0.0, 0.25, 0.5, 0.75, 1.0], dtype=np.float32)
    assert at_prevalence(p, 0.5) == pytest.approx(p, abs=1e-6)  # at equal priors nothing moves
    moved = at_prevalence(p, 0.1)
    assert moved[2] == pytest.approx(0.1, abs=1e-6)  # undecided at equal priors: the share itself
    assert moved[0] == 0 and moved[-1] == pytest.approx(1.0)
    assert np.all(np.diff(moved) > 0)  # the order is kept
    assert np.all(moved[1:-1] < p[1:-1])


def _block(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiles with six artefact features in 0..1: sky (all low), one ripple kind (high troughs), and peculiar
    sources among ripples (evidence in between, like neither); one ripple and nine sky tiles labelled."""
    rng = np.random.default_rng(seed)
    sky = rng.uniform(0.0, 0.15, (300, 6))
    ripples = rng.uniform(0.7, 1.0, (40, 6))
    between = rng.uniform(0.35, 0.5, (40, 6))
    block = np.vstack([sky, ripples, between]).astype(np.float32)
    ids = np.r_[300, np.arange(9)]
    is_art = np.r_[True, np.zeros(9, bool)]
    return block, ids, is_art


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_artefact_label_among_nine_leaves_tiles_like_neither_near_its_share(seed):
    block, ids, is_art = _block(seed)
    none = sparse.csr_matrix((len(ids), len(block)), dtype=np.float32)  # no kernel: the classifier alone
    balanced, taught = artefact_probability(block, none, ids, is_art)
    labels, _ = artefact_probability(block, none, ids, is_art, prevalence="labels")
    assert taught
    ripples, between, sky = slice(301, 340), slice(340, 380), slice(9, 300)
    # the order of the tiles is the same (ripples above the tiles like neither, those above the sky); the
    # ripples still read above the labels' share, the sky below it
    assert labels[ripples].min() > labels[between].max() and labels[between].min() > labels[sky].max()
    assert labels[ripples].min() > 0.1 > labels[sky].max()
    assert np.array_equal(np.argsort(balanced[9:300]), np.argsort(labels[9:300]))
    # the tiles like neither: balanced odds put them about halfway, the labels' share (1 in 10) well below
    assert np.median(labels[between]) < 0.5 * np.median(balanced[between])
    assert np.median(labels[between]) < 0.25


def test_the_option_is_checked():
    assert ActiveConfig().teach_prevalence in ("balanced", "labels")
    with pytest.raises(ValueError, match="teach_prevalence"):
        ActiveConfig(teach_prevalence="half")
    block, ids, is_art = _block(0)
    with pytest.raises(ValueError, match="prevalence"):
        artefact_probability(block, sparse.csr_matrix((len(ids), len(block))), ids, is_art, prevalence="half")
