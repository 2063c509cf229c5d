"""Linear probes of frozen embeddings: PCA, then a single linear layer, as seed 000 evaluates its backbones.

Seed 000 (Lastufka et al. 2024, sec. 4) reduces the embeddings of a frozen backbone with PCA to
100 components and trains one linear layer on them: a regression of the compact-source count
(metric: MSE) and FR I / FR II classification (metric: test error = 1 - accuracy). The same probe
monitors pre-training (sec. 3.3) and compares backbones; seed 003 adds Macro-F1 for multi-class.

Design choice: the "single linear layer" is fitted with scikit-learn to the optimum of the same
objective instead of with SGD epochs. Regression is ordinary least squares (what a linear layer
trained to convergence on MSE reaches); classification is multinomial logistic regression (a
linear layer with softmax cross-entropy) with scikit-learn's mild default L2 penalty, which keeps
the solution finite on separable data where SGD would rely on early stopping. Both are exact,
deterministic and take well under a second for thousands of tiles on a laptop CPU. Features are
standardised, then PCA is fitted on the training part of each fold only.

Two modes: ``k``-fold cross-validation (stratified for classification), or train -> test when a
``train_mask`` says which rows train the probe (the rest test it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, mean_squared_error, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

TASKS = ("regression", "classification")


@dataclass(frozen=True)
class ProbeResult:
    """What a probe measured.

    ``metrics`` holds the mean over folds (cross-validation) or the test-set value (train -> test):
    ``mse`` and ``r2`` for regression; ``accuracy``, ``error``, ``macro_f1``, ``balanced_accuracy``
    (mean recall over classes) and ``weighted_f1`` (F1 weighted by class size, seed 001) for classification. ``per_fold`` holds each fold's values; ``confusion`` (classification) is
    summed over the held-out predictions, rows true class, columns predicted, in ``class_names``
    order. ``predicted`` holds each row's held-out prediction (NaN, or None for classification,
    where a row was never held out: the training rows of train -> test), for a predicted-vs-true plot.
    """

    task: str
    mode: str  # "cv" or "train_test"
    metrics: dict[str, float]
    per_fold: dict[str, list[float]]
    n_samples: int
    pca_dims: int
    folds: int
    class_names: list[str] = field(default_factory=list)
    confusion: np.ndarray | None = None
    predicted: np.ndarray | None = None

    def summary(self) -> str:
        what = f"{self.folds}-fold CV" if self.mode == "cv" else "train -> test"
        vals = ", ".join(f"{k} {v:.4g}" for k, v in self.metrics.items())
        spread = ""
        key = "mse" if self.task == "regression" else "accuracy"
        if self.mode == "cv" and len(self.per_fold.get(key, [])) > 1:
            spread = f" (+- {np.std(self.per_fold[key]):.3g} over folds)"
        return f"{self.task} probe, PCA {self.pca_dims} + linear, {what}, n={self.n_samples}: {vals}{spread}"


def linear_probe(
    X: np.ndarray,
    y: np.ndarray,
    task: str = "regression",
    pca_dims: int | None = 100,
    folds: int = 5,
    seed: int = 0,
    train_mask: np.ndarray | None = None,
) -> ProbeResult:
    """Probe embeddings ``X`` ``[N, D]`` for targets ``y`` ``[N]`` with PCA + one linear layer.

    Parameters
    ----------
    X, y
        Embeddings and targets (numbers for regression; any labels for classification).
    task
        ``"regression"`` or ``"classification"``.
    pca_dims
        PCA components (seed 000: 100); capped by the training rows and features; None or 0: no PCA.
    folds
        Folds of the cross-validation (stratified for classification); ignored with ``train_mask``.
    seed
        Seed of the fold assignment.
    train_mask
        Boolean ``[N]``: rows that train the probe; the others test it (train -> test mode).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be [N, D] and y [N]; got X {X.shape} and y {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"X holds {int((~np.isfinite(X)).sum())} non-finite values; drop or fill those rows first")
    if task == "regression":
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"y holds {int((~np.isfinite(y)).sum())} non-finite targets; drop those rows first")
    class_names = [str(c) for c in np.unique(y)] if task == "classification" else []
    if task == "classification" and len(class_names) < 2:
        raise ValueError(f"classification needs at least two classes, got {class_names}")

    if train_mask is not None:
        train_mask = np.asarray(train_mask, dtype=bool)
        if train_mask.shape != (len(y),) or train_mask.all() or not train_mask.any():
            raise ValueError("train_mask must be a boolean [N] with both training and test rows")
        splits = [(np.flatnonzero(train_mask), np.flatnonzero(~train_mask))]
        mode, n_folds = "train_test", 1
    else:
        n_folds = _usable_folds(y, task, folds)
        splitter = (
            StratifiedKFold(n_folds, shuffle=True, random_state=seed)
            if task == "classification"
            else KFold(n_folds, shuffle=True, random_state=seed)
        )
        splits = list(splitter.split(X, y))
        mode = "cv"

    with threadpool_limits(limits=1, user_api="blas"):
        return _run_probe(X, y, task, pca_dims, seed, splits, mode, n_folds, class_names)


def _run_probe(X, y, task, pca_dims, seed, splits, mode, n_folds, class_names) -> ProbeResult:
    """The folds of :func:`linear_probe`, with BLAS on one thread: these problems are small, and
    several BLAS threads on a shared CPU spin against each other (measured 10x slower on 2 busy cores)."""
    per_fold: dict[str, list[float]] = {}
    confusion = np.zeros((len(class_names),) * 2, dtype=np.int64) if class_names else None
    dims_used = 0
    predicted = np.full(len(y), np.nan) if task == "regression" else np.full(len(y), None, dtype=object)
    for train, test in splits:
        pipe, dims_used = _pipeline(task, pca_dims, len(train), X.shape[1], seed)
        pipe.fit(X[train], y[train])
        pred = pipe.predict(X[test])
        predicted[test] = pred
        if task == "regression":
            _append(per_fold, mse=mean_squared_error(y[test], pred), r2=_r2(y[test], pred))
        else:
            labels = np.unique(y)
            acc = float(np.mean(pred == y[test]))
            f1 = f1_score(y[test], pred, average="macro", labels=labels, zero_division=0)
            weighted = f1_score(y[test], pred, average="weighted", labels=labels, zero_division=0)
            balanced = _balanced_accuracy(y[test], pred)
            _append(
                per_fold, accuracy=acc, error=1.0 - acc, macro_f1=f1, balanced_accuracy=balanced, weighted_f1=weighted
            )
            confusion += confusion_matrix(y[test], pred, labels=labels)
    metrics = {k: float(np.mean(v)) for k, v in per_fold.items()}
    return ProbeResult(
        task=task,
        mode=mode,
        metrics=metrics,
        per_fold=per_fold,
        n_samples=len(y),
        pca_dims=dims_used,
        folds=n_folds,
        class_names=class_names,
        confusion=confusion,
        predicted=predicted,
    )


def drop_outliers(y: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Boolean mask of targets within ``sigma`` standard deviations of the mean (seed 000, sec. 4.1)."""
    y = np.asarray(y, dtype=np.float64)
    sd = y.std()
    if sigma <= 0 or sd == 0:
        return np.ones(len(y), dtype=bool)
    return np.abs(y - y.mean()) <= sigma * sd


def _pipeline(task: str, pca_dims: int | None, n_train: int, n_features: int, seed: int) -> tuple[Pipeline, int]:
    steps: list = [("scale", StandardScaler())]
    dims = 0
    if pca_dims:
        dims = int(min(pca_dims, n_features, max(n_train - 1, 1)))
        # exact solvers: eigh of the covariance for narrow embeddings, SVD of the data for few rows;
        # randomized SVD only when both are large
        solver = "covariance_eigh" if n_features <= 512 else ("full" if n_train <= 4000 else "randomized")
        steps.append(("pca", PCA(n_components=dims, svd_solver=solver, random_state=seed)))
    if task == "regression":
        steps.append(("linear", LinearRegression()))
    else:
        steps.append(("linear", LogisticRegression(max_iter=5000)))
    return Pipeline(steps), dims or n_features


def _usable_folds(y: np.ndarray, task: str, folds: int) -> int:
    if folds < 2:
        raise ValueError(f"folds must be at least 2 for cross-validation, got {folds}")
    if len(y) < 2 * folds and task == "regression":
        raise ValueError(f"{len(y)} samples are too few for {folds}-fold cross-validation")
    if task == "classification":
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest < 2:
            raise ValueError("a class has a single sample: stratified cross-validation needs two per class")
        if smallest < folds:
            log.warning("smallest class has %d samples: using %d folds instead of %d", smallest, smallest, folds)
            return smallest
    return folds


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y`` (sklearn's, without its warning for a class never predicted)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(balanced_accuracy_score(y, pred))


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(r2_score(y, pred)) if len(y) > 1 and np.var(y) > 0 else float("nan")


def _append(store: dict[str, list[float]], **values: float) -> None:
    for k, v in values.items():
        store.setdefault(k, []).append(float(v))
