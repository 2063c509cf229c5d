"""Regressors of interest by name: what learns the astronomer's 1-5 scores from the labelled tiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _random_forest(n_labels: int, seed: int):
    from sklearn.ensemble import RandomForestRegressor

    # 50 trees: as many peculiar tiles found and artefacts queued as with 100 (benchmarks/README.md,
    # issue 24), at half the time of the re-rank's largest cost, predicting every tile
    return RandomForestRegressor(n_estimators=50, max_features=0.5, n_jobs=-1, random_state=seed)


def _extra_trees(n_labels: int, seed: int):
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(n_estimators=64, max_features=0.5, n_jobs=-1, random_state=seed)


def _knn(n_labels: int, seed: int):
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_neighbors=min(5, n_labels), weights="distance")


def _ridge(n_labels: int, seed: int):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def _gaussian_process(n_labels: int, seed: int):
    """Astronomaly's other choice; features standardised so the kernel's length scale starts sensibly."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kernel = ConstantKernel() * Matern(length_scale=3.0, nu=1.5) + WhiteKernel(0.1)
    return make_pipeline(StandardScaler(), GaussianProcessRegressor(kernel=kernel, normalize_y=True, random_state=seed))


#: Regressors of interest by name: each ``factory(n_labels, seed)`` returns an object with fit/predict.
REGRESSORS: dict[str, Callable[[int, int], Any]] = {
    "rf": _random_forest,
    "extra_trees": _extra_trees,
    "knn": _knn,
    "ridge": _ridge,
    "gp": _gaussian_process,
}
