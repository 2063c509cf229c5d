"""The R-threshold decision's accuracy, precision and false-negative rate (seed 004), and where
the app's truth comes from (issue 22)."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir
from radioexplore.segmentation.detection_metrics import detection_metrics, diffuse_truth, r_against_truth
from radioexplore.segmentation.read import (
    HIST_BINS,
    SegmentsError,
    area_above,
    cluster_tiles,
    flagged_area,
    probability_histogram,
    segment_info,
    segment_map,
    segments_path,
)


def test_metrics_count_the_four_cells():
    r = [0.5, 0.02, 0.001, 0.3, 0.0, 0.016]
    truth = [True, True, True, False, False, False]
    m = detection_metrics(r, truth, threshold=0.015)
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["n"]) == (2, 1, 2, 1, 6)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["false_negative_rate"] == pytest.approx(1 / 3)


def test_seed_004_table_gives_its_rates():
    """Seed 004's LoTSS table: 132 clusters with diffuse emission (85 + 47), 114 without; 109 found, 71
    rejected correctly: 73% accuracy and 17% false negatives, as the seed prints."""
    truth = np.r_[np.ones(132, bool), np.zeros(114, bool)]
    r = np.r_[np.full(109, 0.1), np.full(23, 0.0), np.full(71, 0.0), np.full(43, 0.1)]
    m = detection_metrics(r, truth, 0.015)
    assert round(m["accuracy"], 2) == 0.73 and round(m["false_negative_rate"], 2) == 0.17


def test_metrics_follow_the_threshold_and_skip_unknown_truth():
    r = np.array([0.1, 0.2, 0.3, 0.4, np.nan])
    truth = [False, None, True, True, True]
    low = detection_metrics(r, truth, 0.05)
    assert low["n"] == 4 and low["fn"] == 1  # the NaN R is a miss; the None truth is left out
    assert low["precision"] == pytest.approx(2 / 3)
    high = detection_metrics(r, truth, 0.35)
    assert (high["tp"], high["fp"], high["fn"], high["tn"]) == (1, 0, 2, 1)
    assert high["precision"] == 1.0 and high["false_negative_rate"] == pytest.approx(2 / 3)
    none = detection_metrics(r, truth, 0.9)
    assert math.isnan(none["precision"]) and none["false_negative_rate"] == 1.0


def test_metrics_refuse_mismatched_lengths():
    with pytest.raises(ValueError, match="one truth per R"):
        detection_metrics([0.1, 0.2], [True], 0.1)


def test_diffuse_labels_are_the_truth():
    truth = diffuse_truth([["DIFFUSE"], ["EXTENDED", "DIFFUSE-LARGE"], ["COMPACT"], []])
    assert list(truth) == [True, True, False, None]


# -- reading a run's segments/ folder ---------------------------------------------------------------
@pytest.fixture
def seg_run(tiny_run, tmp_path):
    """A copy of tiny_run with an empty label store and a segments/ folder holding segment.json and
    a per-tile table, but no cluster table yet."""
    root = tmp_path / "run"
    shutil.copytree(tiny_run.root, root, ignore=shutil.ignore_patterns("labels.sqlite*", "backups"))
    run = RunDir(root)
    tiles = run.read_tiles(["tile_id"])
    seg = segments_path(run)
    seg.mkdir()
    (seg / "segment.json").write_text(json.dumps({"model": "unet", "threshold": 0.4, "r_threshold": 0.02}))
    mean = np.linspace(0.0, 0.1, len(tiles))
    pd.DataFrame({"tile_id": tiles["tile_id"], "diffuse_mean": mean, "diffuse_area": mean * 5}).to_parquet(
        seg / "tiles.parquet"
    )
    return run


def test_segments_paths_stay_inside_the_folder(seg_run):
    assert segments_path(seg_run, "a.fits") == seg_run.root / "segments" / "a.fits"
    for bad in ("../labels.sqlite", "x/y.fits", ".."):
        with pytest.raises(SegmentsError, match="not a file name"):
            segments_path(seg_run, bad)
    assert segment_map(seg_run, "no_such_field") is None
    info = segment_info(seg_run)
    assert (info.model, info.threshold, info.r_threshold) == ("unet", 0.4, 0.02)


def test_unreadable_segment_json_names_the_file_and_the_command(seg_run):
    segments_path(seg_run, "segment.json").write_text("{not json")
    with pytest.raises(SegmentsError, match="segment.json.*radioexplore segment --run"):
        segment_info(seg_run)


def test_without_clusters_the_labelled_tiles_are_scored(seg_run):
    store = LabelStore.for_run(seg_run, who="tester")
    store.add(40, labels=["DIFFUSE"])
    store.add(3, labels=["COMPACT"])
    store.add(7, interest=3)  # no class: left out
    table, source = r_against_truth(seg_run, store.current())
    assert "per labelled tile" in source
    assert sorted(table["tile_id"]) == [3, 40]  # only the tiles labelled with a class
    assert list(table.sort_values("tile_id")["truth"]) == [False, True]
    m = detection_metrics(table["R"], table["truth"], 0.02)
    assert (m["tp"], m["tn"], m["n"]) == (1, 1, 2)


def test_clusters_are_placed_in_their_tiles_and_judged_by_labels_or_truth(seg_run):
    tiles = seg_run.read_tiles()
    picked = tiles.iloc[[5, 20]]
    clusters = pd.DataFrame(
        {
            "name": ["A", "B", "far"],
            "ra": [*picked["ra"], 0.0],
            "dec": [*picked["dec"], -89.0],
            "r_pix": 30.0,
            "R": [0.03, 0.001, 0.5],
            "detected": [True, False, True],
            "threshold": 0.015,
        }
    )
    clusters.to_parquet(segments_path(seg_run, "clusters.parquet"))
    assert list(cluster_tiles(seg_run, clusters)) == [*picked["tile_id"], -1]
    store = LabelStore.for_run(seg_run, who="tester")
    store.add(int(picked["tile_id"].iloc[0]), labels=["DIFFUSE-LARGE"])
    store.add(int(picked["tile_id"].iloc[1]), labels=["DIFFUSE"])
    table, source = r_against_truth(seg_run, store.current())
    assert "labels of its tile" in source
    assert list(table["truth"]) == [True, True, None]
    m = detection_metrics(table["R"], table["truth"], 0.015)
    assert (m["tp"], m["fn"], m["n"]) == (1, 1, 2)
    clusters["truth"] = [True, False, False]
    clusters.to_parquet(segments_path(seg_run, "clusters.parquet"))
    table, source = r_against_truth(seg_run, store.current())
    assert "truth column" in source
    m = detection_metrics(table["R"], table["truth"], 0.015)
    assert (m["tp"], m["tn"], m["fp"], m["n"]) == (1, 1, 1, 3)


def test_flagged_area_is_read_from_a_histogram_in_strips(seg_run):
    from astropy.io import fits

    from radioexplore.io.fits import read_image

    rng = np.random.default_rng(0)
    prob = rng.random((300, 200)).astype(np.float32)
    prob[:5] = np.nan  # blanked rows are not counted
    path = segments_path(seg_run, "f1.fits")
    fits.PrimaryHDU(prob).writeto(path)
    counts = probability_histogram(read_image(path), strip_px=64)
    assert counts.sum() == 295 * 200 and len(counts) == HIST_BINS
    finite = prob[np.isfinite(prob)]
    for threshold in (0.0, 0.25, 0.5, 0.733, 1.0):
        assert area_above(counts, threshold) == pytest.approx(np.mean(finite >= threshold), abs=1e-9)
    table = flagged_area(seg_run, 0.5)
    assert list(table["field"]) == ["f1"] and table["pixels"].iloc[0] == 295 * 200


def test_segment_json_as_segment_writes_it(seg_run):
    meta = {
        "model": {"arch": "unet_small", "recipe": {}},
        "threshold": 0.5,
        "r_threshold": 0.015,
        "built_from": {"tiles_generation": "g1"},
        "clusters_table": "/x/clusters.csv",
    }
    segments_path(seg_run, "segment.json").write_text(json.dumps(meta))
    info = segment_info(seg_run)
    assert (info.model, info.threshold, info.r_threshold) == ("unet_small", 0.5, 0.015)
    assert info.provenance == {"tiles_generation": "g1"} and info.clusters_table == "/x/clusters.csv"


def test_clusters_placed_where_segment_scored_them_and_judged_by_the_users_table(seg_run, tmp_path):
    tiles = seg_run.read_tiles()
    a, b = tiles.iloc[9], tiles.iloc[30]
    clusters = pd.DataFrame(
        {
            "name": ["A", "B", "C"],
            "ra": [0.0, 0.0, 0.0],  # positions that lie on no field: field, x, y are used instead
            "dec": [-89.0, -89.0, -89.0],
            "R": [0.05, 0.001, np.nan],
            "field": [a["field"], b["field"], ""],
            "x": [a["x0"] + 3.0, b["x0"] + b["size"] - 4.0, np.nan],
            "y": [a["y0"] + 3.0, b["y0"] + 2.0, np.nan],
        }
    )
    clusters.to_parquet(segments_path(seg_run, "clusters.parquet"))
    assert list(cluster_tiles(seg_run, clusters)) == [9, 30, -1]
    # the simulator's clusters.csv, named by segment.json, says which have diffuse emission
    csv = tmp_path / "clusters.csv"
    pd.DataFrame({"name": ["B", "A", "C"], "diffuse": [True, True, False]}).to_csv(csv, index=False)
    meta = {"model": "unet", "threshold": 0.5, "r_threshold": 0.015, "clusters_table": str(csv)}
    segments_path(seg_run, "segment.json").write_text(json.dumps(meta))
    table, source = r_against_truth(seg_run, pd.DataFrame({"tile_id": [], "labels": []}))
    assert "diffuse column of clusters.csv" in source and list(table["truth"]) == [True, True, False]
    m = detection_metrics(table["R"], table["truth"], 0.015)
    assert (m["tp"], m["fn"], m["tn"], m["n"]) == (1, 1, 1, 3)  # C: no R, not diffuse: a true negative
    clusters.assign(diffuse=[False, True, None]).to_parquet(segments_path(seg_run, "clusters.parquet"))
    table, source = r_against_truth(seg_run, pd.DataFrame({"tile_id": [], "labels": []}))
    assert "its diffuse column" in source and list(table["truth"]) == [False, True, None]
