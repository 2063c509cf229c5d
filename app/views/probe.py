"""On-demand linear probes: how well does each embedding set predict a column of the tile table?

The probe is seed 000's (sec. 4): standardise, PCA to 100 components, one linear layer, scored by
5-fold cross-validation (:func:`radioexplore.evaluation.probes.linear_probe`). Numbers are regressed (MSE,
R^2); text, booleans and codes such as ``dqf`` are classified (accuracy, error, Macro-F1, and a
confusion matrix). Targets are the columns of ``tiles.parquet`` and, once the astronomer has
labelled tiles, the label store's ``user_labels`` and ``user_interest``. Only rows with a value
take part. The probes run in a worker thread while a spinner shows, so the page stays live.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from app.state import ExplorerState
from app.text import html_text, md_lines
from radioexplore.evaluation.bias import bias_warnings
from radioexplore.evaluation.probes import ProbeResult, linear_probe
from radioexplore.evaluation.report import read_evaluation
from radioexplore.evaluation.table import METRICS as TABLE_METRICS
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.join import LABEL_MARKERS
from radioexplore.run.tiletable.schema import NOT_TARGETS

TASKS = ["auto", "regression", "classification"]
#: Integer columns that are codes, not quantities: classified under "auto".
CODE_COLUMNS = {"dqf"}
#: Targets offered first, in this order, when the run has them (seed 000 probes the source count).
PREFERRED_TARGETS = [
    "n_sources",
    "label",
    "user_labels",
    "user_interest",
    "truth_n_sources",
    "truth_kinds",
    "truth_extended",
    "truth_peculiar",
    "dqf",
    "field",
    "noise_rms",
    "flag",
]
#: Values that mean "no value" in text columns (the label store's unlabelled tiles among them).
ABSENT_TEXT = {"", "nan", "None", "<NA>", *LABEL_MARKERS}
#: Text columns where an empty value is a class of its own (a simulated tile with only compact sources).
EMPTY_IS_A_CLASS = {"truth_kinds": "compact only"}
#: Metrics shown per task, in this order.
METRICS = {"regression": ["mse", "r2"], "classification": ["accuracy", "error", "macro_f1"]}


def probe_task(values: pd.Series, column: str = "") -> str:
    """ "regression" for quantities, "classification" for text, booleans, categories and code columns."""
    if column in CODE_COLUMNS or values.dtype == bool or isinstance(values.dtype, pd.CategoricalDtype):
        return "classification"
    if pd.api.types.is_numeric_dtype(values):
        return "regression"
    return "classification"


@dataclass(frozen=True)
class ProbeTarget:
    """The rows that have a value of the target and those values, ready for :func:`linear_probe`."""

    column: str
    task: str
    rows: np.ndarray  # tile ids
    y: np.ndarray
    notes: list[str] = field(default_factory=list)


class ProbeInputError(ValueError):
    """The target cannot be probed (too few rows or classes); the message says why and what to do."""


def probe_target(tiles: pd.DataFrame, column: str, task: str = "auto", folds: int = 5) -> ProbeTarget:
    """Select the rows of ``tiles`` with a value of ``column`` and check there are enough to probe.

    Classification drops classes with a single tile (stratified folds need two) and says so; it
    needs two classes left. Regression needs ``2 * folds`` rows. Raises ProbeInputError otherwise.
    """
    if column not in tiles.columns:
        raise ProbeInputError(f"the tile table has no column {column!r}")
    values = tiles[column]
    task = probe_task(values, column) if task == "auto" else task
    ids = tiles["tile_id"].to_numpy(dtype=np.int64)
    notes: list[str] = []
    if task == "regression":
        y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        keep = np.isfinite(y)
        if keep.sum() < 2 * folds:
            raise ProbeInputError(
                f"only {int(keep.sum())} tiles have a numeric value of {column!r}; "
                f"{folds}-fold cross-validation needs at least {2 * folds}. Pick another target or fewer folds."
            )
        return ProbeTarget(column, task, ids[keep], y[keep], notes)
    text = values.astype(object).where(values.notna(), None).map(lambda v: "" if v is None else str(v))
    if column in EMPTY_IS_A_CLASS:
        text = text.where(text != "", EMPTY_IS_A_CLASS[column])
    keep = ~text.isin(ABSENT_TEXT).to_numpy()
    counts = text[keep].value_counts()
    single = sorted(counts.index[counts < 2])
    if single:
        keep &= ~text.isin(single).to_numpy()
        shown = ", ".join(single[:5]) + (" ..." if len(single) > 5 else "")
        notes.append(f"left out {len(single)} class(es) with a single tile: {shown}")
    classes = sorted(counts.index[counts >= 2])
    if len(classes) < 2:
        raise ProbeInputError(
            f"{column!r} has {len(classes)} class(es) with at least two tiles ({', '.join(classes) or 'none'}) "
            f"among {int((~text.isin(ABSENT_TEXT)).sum())} tiles with a value; "
            "a classification probe needs at least two classes of two tiles each."
        )
    return ProbeTarget(column, task, ids[keep], text[keep].to_numpy(dtype=str), notes)


def result_table(results: dict[str, ProbeResult]) -> pd.DataFrame:
    """One row per embedding and metric: value (mean over folds) and its spread (std over folds)."""
    rows = []
    for name, res in results.items():
        for metric in METRICS[res.task]:
            per_fold = res.per_fold.get(metric, [])
            rows.append(
                {
                    "embedding": name,
                    "metric": metric,
                    "value": res.metrics[metric],
                    "±": float(np.std(per_fold)) if len(per_fold) > 1 else float("nan"),
                    "tiles": res.n_samples,
                    "PCA dims": res.pca_dims,
                    "folds": res.folds,
                }
            )
    return pd.DataFrame(rows, columns=["embedding", "metric", "value", "±", "tiles", "PCA dims", "folds"])


def confusion_heatmap(name: str, res: ProbeResult) -> hv.Overlay:
    """Counts of held-out predictions, true class down, predicted across, with the count in each cell."""
    names = res.class_names
    frame = pd.DataFrame(
        [(p, t, int(res.confusion[i, j])) for i, t in enumerate(names) for j, p in enumerate(names)],
        columns=["predicted", "true", "tiles"],
    )
    heat = hv.HeatMap(frame, kdims=["predicted", "true"], vdims=["tiles"]).opts(
        cmap="Blues", colorbar=True, tools=["hover"], xrotation=45, invert_yaxis=True
    )
    labels = hv.Labels(frame, kdims=["predicted", "true"], vdims=["tiles"]).opts(text_font_size="9pt")
    side = min(520, 160 + 28 * len(names))
    return (heat * labels).opts(
        title=f"{name}: confusion ({res.n_samples} tiles, {res.folds}-fold CV)",
        frame_width=side,
        frame_height=side,
        toolbar=None,
    )


def prediction_scatter(name: str, res: ProbeResult, y: np.ndarray, column: str) -> hv.Overlay:
    """Held-out prediction against the true value, with the line of perfect prediction."""
    pred = np.asarray(res.predicted, dtype=np.float64)
    ok = np.isfinite(pred)
    lo = float(np.nanmin([y[ok].min(), pred[ok].min()]))
    hi = float(np.nanmax([y[ok].max(), pred[ok].max()]))
    points = hv.Scatter((y[ok], pred[ok]), kdims=[f"true {column}"], vdims=["predicted"]).opts(
        size=4, alpha=0.5, tools=["hover"]
    )
    diagonal = hv.Curve([(lo, lo), (hi, hi)]).opts(color="grey", line_dash="dashed")
    return (points * diagonal).opts(
        title=f"{name}: held-out prediction of {column}", frame_width=300, frame_height=300, toolbar=None
    )


def evaluation_display(run: RunDir) -> tuple[pd.DataFrame | None, list[str]]:
    """The table ``radioexplore evaluate --table`` wrote into ``run`` (metrics as "mean ± std" in per
    cent) and the bias audit's warnings; (None, []) when the command has not been run."""
    table, bias = read_evaluation(run)
    if table is None:
        return None, []
    shown = table[["features", "kind", "runs", "n", "folds"]].copy()
    for m in TABLE_METRICS:
        shown[m.replace("_", " ")] = [
            f"{100 * v:.1f} ± {100 * s:.1f}" for v, s in zip(table[m], table[f"{m}_std"], strict=True)
        ]
    return shown, bias_warnings(bias) if bias is not None and len(bias) else []


def evaluation_pane(run: RunDir) -> pn.viewable.Viewable:
    """The side-by-side table of the run's embedding sets (seed 001's protocol) and the bias warnings."""
    shown, warnings = evaluation_display(run)
    head = "### Evaluation table\n"
    if shown is None:
        return pn.pane.Markdown(
            head + f"Not computed yet: `radioexplore evaluate --run {run.root} --table` probes every embedding set "
            "beside random init, pixel PCA and the majority class."
        )
    target = str(read_evaluation(run)[0]["target"].iloc[0])
    text = head + f"Frozen linear probe of `{target}`, stratified k-fold; mean ± std over folds (and seeds), per cent."
    return pn.Column(
        pn.pane.Markdown(text),
        pn.widgets.Tabulator(shown, show_index=False, disabled=True, css_classes=["evaluation-table"]),
        *[pn.pane.Alert(w, alert_type="warning") for w in warnings],
        sizing_mode="stretch_width",
    )


class ProbeView(param.Parameterized):
    """Pick a target, embedding sets and probe settings, press Run; shows metrics and plots."""

    state = param.ClassSelector(class_=ExplorerState)
    target = param.Selector(default=None, objects=[], doc="tile-table column the probe predicts")
    task = param.Selector(default="auto", objects=TASKS, doc="auto: numbers regressed, text and codes classified")
    embeddings = param.ListSelector(default=[], objects=[], doc="embedding sets to compare")
    pca_dims = param.Integer(
        default=100, bounds=(0, 1024), doc="PCA components before the linear layer (seed 000: 100; 0: none)"
    )
    folds = param.Integer(default=5, bounds=(2, 20), doc="cross-validation folds (seed 000: 5)")
    running = param.Boolean(default=False, doc="True while the probes run")
    message = param.String(default="")
    results = param.Dict(default={}, doc="embedding name -> ProbeResult of the last run")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._target: ProbeTarget | None = None
        names = self.state.run.embedding_names()
        self.param.embeddings.objects = names
        if not self.embeddings:
            self.embeddings = [self.state.embedding] if self.state.embedding in names else names[:1]
        self._refresh_targets()

    @param.depends("state.label_version", watch=True)
    def _refresh_targets(self) -> None:
        choices = self.target_choices()
        self.param.target.objects = choices
        if self.target not in choices:
            self.target = choices[0] if choices else None

    def target_choices(self) -> list[str]:
        """Columns of the tile table (and of the label store) a probe can predict."""
        cols = [c for c in self.state.tiles().columns if c not in NOT_TARGETS]
        first = [c for c in PREFERRED_TARGETS if c in cols]
        return first + [c for c in cols if c not in first]

    # -- running ----------------------------------------------------------------------------------
    def _inputs(self) -> tuple[ProbeTarget, dict[str, np.ndarray]]:
        """The target rows and each embedding's rows for them; raises ProbeInputError."""
        if not self.embeddings:
            raise ProbeInputError("choose at least one embedding set to probe")
        if self.target is None:
            raise ProbeInputError("choose a target column")
        target = probe_target(self.state.tiles(), self.target, self.task, self.folds)
        features = {name: self.state.run.read_embeddings(name)[target.rows] for name in self.embeddings}
        return target, features

    def compute(self, target: ProbeTarget, features: dict[str, np.ndarray]) -> tuple[dict[str, ProbeResult], str]:
        """Probe each embedding set (plain arrays in, results out: safe in a worker thread)."""
        results: dict[str, ProbeResult] = {}
        problems: list[str] = []
        for name, X in features.items():
            finite = np.isfinite(X).all(axis=1)
            if not finite.all():
                problems.append(f"{name}: left out {int((~finite).sum())} tiles with non-finite embeddings")
            try:
                res = linear_probe(
                    X[finite], target.y[finite], target.task, pca_dims=self.pca_dims or None, folds=self.folds
                )
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
                continue
            results[name] = res
            if res.folds != self.folds:
                problems.append(f"{name}: {res.folds} folds, as many as the smallest class has tiles")
        folds = sorted({res.folds for res in results.values()}) or [self.folds]
        what = f"{target.task} of {target.column!r} on {len(target.y)} tiles"
        lines = [f"Probed {what}: PCA {self.pca_dims or 'off'} + linear, {'/'.join(map(str, folds))}-fold CV."]
        return results, "\n".join(lines + target.notes + problems)

    def _checked_inputs(self) -> tuple | None:
        """The probe's inputs, or None after saying why they cannot be probed."""
        try:
            return self._inputs()
        except ProbeInputError as exc:
            self._target = None
            self.param.update(results={}, message=f"Cannot probe: {exc}")
            return None

    def run(self) -> None:
        """Run the probes now, in this thread (tests, scripts)."""
        inputs = self._checked_inputs()
        if inputs is None:
            return
        target, features = inputs
        results, message = self.compute(target, features)
        self._target = target
        self.param.update(results=results, message=message)

    async def run_async(self, _event=None) -> None:
        """Run the probes in a worker thread while the spinner shows (the Run button)."""
        if self.running:
            return
        inputs = self._checked_inputs()
        if inputs is None:
            return
        target, features = inputs
        self.running = True
        try:
            results, message = await asyncio.to_thread(self.compute, target, features)
        finally:
            self.running = False
        self._target = target
        self.param.update(results=results, message=message)

    # -- display ----------------------------------------------------------------------------------
    def plots(self) -> list[hv.Overlay]:
        """A confusion matrix (classification) or predicted-vs-true scatter (regression) per embedding."""
        if self._target is None:
            return []
        out = []
        for name, res in self.results.items():
            if res.task == "classification" and res.confusion is not None:
                out.append(confusion_heatmap(name, res))
            elif res.task == "regression" and res.predicted is not None and len(res.predicted) == len(self._target.y):
                out.append(prediction_scatter(name, res, self._target.y, self._target.column))
        return out

    @param.depends("results", "message", "running")
    def _results_pane(self) -> pn.viewable.Viewable:
        if self.running:
            return pn.Row(pn.indicators.LoadingSpinner(value=True, size=30), pn.pane.Markdown("Running the probes ..."))
        parts: list = [pn.pane.Markdown(md_lines(self.message), css_classes=["probe-status"])]
        if self.results:
            table = result_table(self.results)
            for col in ("value", "±"):  # four significant digits: an MSE in (Jy/beam)^2 is ~1e-12
                table[col] = table[col].map(lambda v: "–" if not np.isfinite(v) else f"{v:.4g}")
            parts.append(pn.widgets.Tabulator(table, show_index=False, disabled=True, css_classes=["probe-table"]))
            parts.append(pn.FlexBox(*[pn.pane.HoloViews(p, linked_axes=False) for p in self.plots()]))
        return pn.Column(*parts, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        go = pn.widgets.Button(label="Run", color="primary", css_classes=["probe-run"], width=100)
        go.on_click(self.run_async)
        self.param.watch(lambda e: setattr(go, "disabled", e.new), "running")
        return pn.Column(
            pn.pane.Markdown(
                "### Linear probe\nHow well does a linear layer on each embedding predict a column of the tile "
                "table? PCA, then one linear layer, scored by cross-validation (seed 000, sec. 4)."
            ),
            pn.Row(
                pn.widgets.Select.from_param(self.param.target, name="Target"),
                pn.widgets.RadioButtonGroup.from_param(self.param.task, name=""),
                pn.widgets.MultiChoice.from_param(  # Bokeh's MultiChoice shows its options as HTML
                    self.param.embeddings,
                    name="Embedding sets",
                    options={html_text(n): n for n in self.param.embeddings.objects},
                ),
            ),
            pn.Row(
                pn.widgets.IntInput.from_param(self.param.pca_dims, name="PCA dims", width=110),
                pn.widgets.IntInput.from_param(self.param.folds, name="Folds", width=110),
                go,
            ),
            self._results_pane,
            evaluation_pane(self.state.run),
            sizing_mode="stretch_width",
        )
