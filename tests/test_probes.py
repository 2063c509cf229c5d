"""Linear probes (PCA + one linear layer, seed 000): regression and classification, CV and train -> test."""

from __future__ import annotations

import numpy as np
import pytest

from radioexplore.evaluation.probes import drop_outliers, linear_probe


def synthetic(n=300, d=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    return X, X @ w, rng


def test_regression_probe_recovers_a_linear_target():
    X, y, rng = synthetic()
    good = linear_probe(X, y + 0.1 * rng.normal(size=len(y)), "regression", pca_dims=40, folds=5)
    assert good.mode == "cv" and good.folds == 5 and len(good.per_fold["mse"]) == 5
    assert good.metrics["r2"] > 0.99 and good.metrics["mse"] < 0.05
    # the same probe on features that do not hold the target does far worse
    noise = linear_probe(rng.normal(size=X.shape), y, "regression", pca_dims=40)
    assert noise.metrics["mse"] > 20 * good.metrics["mse"] and noise.metrics["r2"] < 0.1


def test_pca_dims_limit_what_the_linear_layer_sees():
    X, y, _ = synthetic(d=40)
    few = linear_probe(X, y, "regression", pca_dims=5)
    assert few.pca_dims == 5 and few.metrics["r2"] < 0.6
    assert linear_probe(X, y, "regression", pca_dims=None).pca_dims == 40


def test_classification_probe_accuracy_f1_and_confusion():
    rng = np.random.default_rng(1)
    labels = np.array(["FRI", "FRII", "compact"])[rng.integers(0, 3, 240)]
    centres = {"FRI": 0.0, "FRII": 3.0, "compact": -3.0}
    X = rng.normal(size=(240, 10)) + np.array([centres[c] for c in labels])[:, None]
    res = linear_probe(X, labels, "classification", pca_dims=10, folds=4, seed=3)
    assert res.class_names == ["FRI", "FRII", "compact"]
    assert res.metrics["accuracy"] > 0.95 and res.metrics["macro_f1"] > 0.95
    assert res.metrics["error"] == pytest.approx(1 - res.metrics["accuracy"])
    assert res.confusion.shape == (3, 3) and res.confusion.sum() == 240  # every tile predicted once
    counts = {c: int((labels == c).sum()) for c in res.class_names}
    assert list(res.confusion.sum(axis=1)) == [counts[c] for c in res.class_names]


def test_stratified_folds_keep_a_rare_class_in_every_fold():
    rng = np.random.default_rng(2)
    y = np.array([1] * 10 + [0] * 90)
    X = rng.normal(size=(100, 5)) + 2.5 * y[:, None]
    res = linear_probe(X, y, "classification", pca_dims=5, folds=5)
    # with stratification each held-out fold has 2 positives; the probe finds them
    assert res.confusion[1].sum() == 10 and res.confusion[1, 1] >= 8


def test_train_test_mode_uses_the_mask():
    X, y, _ = synthetic(n=200)
    mask = np.zeros(200, bool)
    mask[:150] = True
    res = linear_probe(X, y, "regression", pca_dims=40, train_mask=mask)
    assert res.mode == "train_test" and res.folds == 1 and res.metrics["r2"] > 0.99
    shuffled = linear_probe(X, np.roll(y, 50), "regression", pca_dims=40, train_mask=mask)
    assert shuffled.metrics["r2"] < 0.2


def test_probe_errors_say_what_is_wrong():
    X, y, _ = synthetic(n=50)
    with pytest.raises(ValueError, match="task"):
        linear_probe(X, y, "ranking")
    with pytest.raises(ValueError, match="non-finite"):
        linear_probe(np.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="two classes"):
        linear_probe(X, np.zeros(50), "classification")
    with pytest.raises(ValueError, match="train_mask"):
        linear_probe(X, y, train_mask=np.ones(50, bool))


def test_outliers_beyond_three_sigma_are_dropped():
    y = np.concatenate([np.full(99, 10.0) + np.linspace(-1, 1, 99), [100.0]])
    keep = drop_outliers(y, 3.0)
    assert not keep[-1] and keep[:-1].all()


def test_held_out_predictions_are_kept_for_a_predicted_vs_true_plot():
    X, y, rng = synthetic(n=120)
    y = y + 0.1 * rng.normal(size=len(y))
    res = linear_probe(X, y, "regression", pca_dims=40, folds=4)
    assert res.predicted.shape == y.shape and np.isfinite(res.predicted).all()  # every row held out once
    assert np.mean((res.predicted - y) ** 2) == pytest.approx(res.metrics["mse"], rel=0.05)  # equal folds
    mask = np.arange(120) < 90
    tt = linear_probe(X, y, "regression", pca_dims=40, train_mask=mask)
    assert np.isnan(tt.predicted[mask]).all() and np.isfinite(tt.predicted[~mask]).all()
    labels = np.where(y > 0, "pos", "neg")
    cls = linear_probe(X, labels, "classification", pca_dims=40, folds=4)
    assert set(cls.predicted) <= {"pos", "neg"} and np.mean(cls.predicted == labels) == pytest.approx(
        cls.metrics["accuracy"], abs=0.02
    )
