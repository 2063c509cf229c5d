"""Issue 21: ``evaluate --table`` (seed 001's protocol beside its baselines) and the instrumental-bias audit (seed 000)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.evaluation.bias import BiasConfig, bias_audit, bias_warnings
from radioexplore.evaluation.report import read_evaluation
from radioexplore.evaluation.table import (
    COLUMNS,
    MAJORITY_ROW,
    METRICS,
    PIXEL_ROW,
    FeatureSet,
    TableConfig,
    probe_table,
)
from radioexplore.run.rundir import RunDir


@pytest.fixture(scope="module")
def stamps_run(tmp_path_factory) -> RunDir:
    """24 simulated FR I / FR II clean stamps (150 px PNG) ingested with their labels."""
    from radioexplore.cli import main
    from radioexplore.simulation.cutouts import write_fr_collection

    root = tmp_path_factory.mktemp("evaltable")
    made = write_fr_collection(root / "coll", 12, seed=5)
    run = root / "run"
    assert (
        main(
            [
                "-q",
                "ingest",
                "--stamps",
                str(made["clean"]),
                "--labels",
                str(made["labels"]),
                "--tile",
                "150",
                "--run",
                str(run),
            ]
        )
        == 0
    )
    return RunDir(run)


def test_the_table_has_every_embedding_set_random_init_pixel_pca_and_the_majority_class(stamps_run, cli_main):
    cli_main("embed", "--run", stamps_run.root, "--checkpoint", "demo", "--name", "demo", "--batch-size", "8")
    code, out, _ = cli_main("evaluate", "--run", stamps_run.root, "--table", "--folds", "3")
    assert code == 0
    for row in ("demo", "random init (vit_tiny/16, 96 px)", PIXEL_ROW, MAJORITY_ROW):
        assert row in out
    assert "balanced accuracy" in out and "weighted f1" in out and "'label' (FRI 12, FRII 12)" in out
    table, bias = read_evaluation(stamps_run)
    assert list(table.columns) == list(COLUMNS)
    assert set(table["kind"]) == {"embedding", "random init", "pixel", "majority"}
    majority = table.set_index("features").loc[MAJORITY_ROW]
    assert majority["balanced_accuracy"] == pytest.approx(0.5) and majority["balanced_accuracy_std"] == 0
    assert majority["accuracy"] == pytest.approx(0.5)  # balanced classes, stratified folds
    for m in METRICS:
        assert table[m].between(0, 1).all() and (table[f"{m}_std"] >= 0).all()
    assert (table["folds"] == 3).all() and (table["n"] == 24).all() and (table["target"] == "label").all()
    assert bias is not None and bias.empty  # stamps carry no field, dqf or noise column


def test_four_methods_are_pretrained_embedded_and_their_seeds_pooled(stamps_run, cli_main):
    methods = ("dino", "simclr", "byol", "mae")
    code, out, _ = cli_main(
        "evaluate",
        "--run",
        stamps_run.root,
        "--methods",
        ",".join(methods),
        "--seeds",
        "0,1",
        "--epochs",
        "1",
        "--folds",
        "3",
    )
    assert code == 0
    table, _ = read_evaluation(stamps_run)
    for method in methods:
        assert {f"{method}_s0", f"{method}_s1"} <= set(stamps_run.embedding_names())
        record = stamps_run.stage_config("embed", f"{method}_s0")
        assert record["provenance"]["method"] == method and record["pool"] == ("mean" if method == "mae" else "cls")
        assert record["spec"]["input_px"] == 96 and record["spec"]["depth"] == 4  # one backbone for all methods
        pooled = table[table["features"] == f"{method}_s0 + {method}_s1"]
        assert len(pooled) == 1 and int(pooled["runs"].iloc[0]) == 2 and pooled["kind"].iloc[0] == "pre-training runs"
        assert f"{method}_s0 + {method}_s1" in out
    assert "byol_s0, byol_s1" in out and "pre-trained on this run's own images" in out  # transductive, and said so


def test_pooled_runs_report_mean_and_std_over_runs_and_folds():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 30)
    signal = (y == "a")[:, None] * 2.0 + rng.normal(size=(60, 8))
    sets = [
        FeatureSet("m_s0", "embedding", signal, group="m"),
        FeatureSet("m_s1", "embedding", rng.normal(size=(60, 8)), group="m"),
    ]
    table = probe_table(sets, y, "label", TableConfig(folds=3)).set_index("features")
    s0, s1, both = table.loc["m_s0"], table.loc["m_s1"], table.loc["m_s0 + m_s1"]
    assert s0["accuracy"] > 0.9 and s1["accuracy"] < 0.75
    assert both["accuracy"] == pytest.approx((s0["accuracy"] + s1["accuracy"]) / 2)
    assert both["accuracy_std"] > max(s0["accuracy_std"], s1["accuracy_std"])  # the spread between runs shows


def test_bias_audit_flags_an_embedding_that_encodes_the_field_and_not_one_that_does_not():
    rng = np.random.default_rng(1)
    n = 200
    field = rng.choice(["F1", "F2", "F3", "F4"], n)
    tiles = pd.DataFrame({"field": field, "noise_rms": 10 ** rng.uniform(-5, -4, n), "dqf": rng.integers(0, 2, n)})
    onehot = (field[:, None] == np.array(["F1", "F2", "F3", "F4"])).astype(float)
    features = {
        "knows_field": np.hstack([3 * onehot, rng.normal(size=(n, 12))]),
        "blind": rng.normal(size=(n, 16)),
    }
    audit = bias_audit(tiles, features, BiasConfig(folds=4))
    got = audit.set_index(["features", "column"])
    assert got.loc[("knows_field", "field"), "readable"]
    assert got.loc[("knows_field", "field"), "chance"] == pytest.approx(0.25)
    assert not got.loc[("blind", "field"), "readable"]
    assert not got.loc[("knows_field", "noise_rms"), "readable"] and not got.loc[("blind", "dqf"), "readable"]
    warnings = bias_warnings(audit)
    assert len(warnings) == 1 and "field can be read off 'knows_field'" in warnings[0]


def test_the_probe_tab_shows_the_table_evaluate_wrote(stamps_run, tmp_path, cli_main):
    from app.views.probe import evaluation_display, evaluation_pane

    assert evaluation_display(RunDir(tmp_path)) == (None, [])
    assert "evaluate --run" in evaluation_pane(RunDir(tmp_path)).object  # says how to make it
    if not (stamps_run.root / "evaluation" / "table.parquet").is_file():
        cli_main("embed", "--run", stamps_run.root, "--random-init", "--name", "rnd", "--batch-size", "8")
        cli_main("evaluate", "--run", stamps_run.root, "--table", "--folds", "3")
    shown, warnings = evaluation_display(stamps_run)
    assert {PIXEL_ROW, MAJORITY_ROW} <= set(shown["features"]) and warnings == []
    assert list(shown.columns[-4:]) == ["accuracy", "balanced accuracy", "macro f1", "weighted f1"]
    assert all("±" in v for v in shown["balanced accuracy"])


def test_a_noise_clipped_set_gets_a_random_init_row_embedded_with_the_same_clip(stamps_run, cli_main):
    import torch

    from radioexplore.embed.embedding import embed_tiles
    from radioexplore.evaluation.table import random_feature_sets
    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.run.tilestore import open_tile_store, read_tiles

    for name, extra in (("plain", []), ("clip3", ["--clip-sigma", "3"])):
        cli_main("embed", "--run", stamps_run.root, "--checkpoint", "demo", "--name", name, *extra)
    run = RunDir(stamps_run.root)
    images = read_tiles(open_tile_store(run.tile_pixels), np.arange(8))
    config = TableConfig(folds=3)
    rows = {s.name: s.X for s in random_feature_sets(run, ["plain", "clip3"], images, config)}
    clipped = [name for name in rows if "clipped at 3 sigma" in name]
    assert len(rows) == 2 and len(clipped) == 1
    record = run.stage_config("embed", "clip3")
    assert record["clip_sigma"] == 3.0
    spec = BackboneSpec(**record["spec"])
    torch.manual_seed(config.seed)
    net = build_backbone(spec).eval()
    px = record.get("embed_px")
    want = embed_tiles(net, spec, images, progress=False, device="cpu", input_px=px, clip_sigma=3.0)
    np.testing.assert_allclose(rows[clipped[0]], want, rtol=1e-4, atol=1e-5)
