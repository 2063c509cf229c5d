"""Every CLI option default equals the default of the config field it fills (issue 19: one owner each).

The config dataclasses cite the seed behind each default; a default changed there must not leave
``--help`` and the command behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib

import pytest

from radioexplore.cli import build_parser
from radioexplore.commands.common import default_of

# (command, option dest, "module:Config", field); the CLI name of an option may differ from the field's.
PAIRS = [
    *[
        ("simulate", d, "radioexplore.simulation.survey:SimulationConfig", f)
        for d, f in [
            ("fields", "fields"),
            ("size", "size_px"),
            ("seed", "seed"),
            ("naxis", "naxis"),
            ("artefact_strength", "artefact_strength"),
        ]
    ],
    ("ingest", "noise", "radioexplore.ingest.images:IngestConfig", "noise"),
    ("ingest", "noise", "radioexplore.ingest.stamps:StampConfig", "noise"),
    ("ingest", "survey", "radioexplore.ingest.images:IngestConfig", "survey"),
    ("ingest", "detect_sigma", "radioexplore.ingest.detect:DetectConfig", "peak_sigma"),
    ("ingest", "workers", "radioexplore.run.fanout:DaskConfig", "workers"),
    ("ingest", "threads_per_worker", "radioexplore.run.fanout:DaskConfig", "threads_per_worker"),
    *[
        ("embed", d, "radioexplore.embed.embedding:EmbedConfig", d)
        for d in ("batch_size", "device", "pool", "block_tiles")
    ],
    *[
        ("map", d, "radioexplore.space.maps:MapConfig", d)
        for d in ("method", "sample_above", "sample_size", "place", "n_neighbors", "min_dist", "perplexity", "seed")
    ],
    *[
        ("rank", d, "radioexplore.ranking.config:RankConfig", f)
        for d, f in [
            ("trees", "n_estimators"),
            ("max_samples", "max_samples"),
            ("contamination", "contamination"),
            ("exclude_flags", "exclude_flags"),
            ("standardise", "standardise"),
            ("min_group", "min_group"),
            ("seed", "seed"),
            ("method", "method"),
        ]
    ],
    ("objects", "min_beams", "radioexplore.ranking.objects:ObjectConfig", "min_beams"),
    ("objects", "seed", "radioexplore.ranking.objects:ObjectConfig", "seed"),
    ("objects", "ripple_model", "radioexplore.ranking.objects:ObjectConfig", "ripple_model"),
    ("objects", "lowsb_beams", "radioexplore.ranking.objects:ObjectConfig", "lowsb_beams"),
    ("objects", "plane_waves", "radioexplore.ranking.objects:ObjectConfig", "plane_waves"),
    ("pool-objects", "pool", "radioexplore.ranking.object_pool:ObjectPoolConfig", "pool"),
    *[
        ("demo", d, "radioexplore.demo:DemoConfig", f)
        for d, f in [("fields", "fields"), ("size", "size_px"), ("seed", "seed")]
    ],
    *[
        ("fetch", d, "radioexplore.io.fetch:FetchConfig", f)
        for d, f in [
            ("protocol", "protocol"),
            ("max_per_position", "max_per_position"),
            ("retries", "retries"),
            ("backoff", "backoff_s"),
            ("timeout", "timeout_s"),
        ]
    ],
    *[
        ("rerank", d, "radioexplore.ranking.active:ActiveConfig", f)
        for d, f in [
            ("regressor", "regressor"),
            ("blend", "blend"),
            ("components", "n_components"),
            ("weight", "weight"),
            ("spread", "spread"),
            ("seed", "seed"),
        ]
    ],
    *[
        ("segment", d, "radioexplore.segmentation.run:SegmentConfig", d)
        for d in (
            "threshold",
            "core_threshold",
            "r_threshold",
            "aperture_r500",
            "region_reach",
            "batch_size",
            "device",
            "block_cores",
            "tta",
            "min_beams",
            "max_compact_fraction",
            "max_negative_fraction",
            "spoke_sigma",
            "attribute_sidelobes",
            "cut_pattern",
            "edge_sigma",
            "join_arcs",
        )
    ],
    *[
        ("segment-train", d, "radioexplore.segmentation.train:SegmentRecipe", f)
        for d, f in [
            ("arch", "arch"),
            ("steps", "steps"),
            ("crop", "crop_px"),
            ("positive_fraction", "positive_fraction"),
            ("negative_fraction", "negative_fraction"),
            ("batch_size", "batch_size"),
            ("lr", "lr"),
            ("seed", "seed"),
            ("fields", "fields"),
            ("size", "size_px"),
            ("sim_seed", "sim_seed"),
            ("more_sim_seeds", "more_sim_seeds"),
            ("region_loss", "region_loss"),
            ("noise_background", "noise_background_px"),
            ("noise_from_below", "noise_from_below"),
            ("ripple_model", "ripple_model"),
            ("ripple_spoke_deg", "ripple_spoke_deg"),
        ]
    ],
    *[
        ("evaluate", d, "radioexplore.evaluation.checks:EvaluateConfig", d)
        for d in ("folds", "pca_dims", "seed", "attention_tiles", "device")
    ],
    ("evaluate", "epochs", "radioexplore.ssl.compare:MethodsConfig", "epochs"),
]


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _config(spec: str) -> type:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("command", "dest", "spec", "field"), PAIRS, ids=lambda v: str(v).split(":")[-1])
def test_cli_default_is_the_config_default(command: str, dest: str, spec: str, field: str) -> None:
    parser_default = _subparser(command).get_default(dest)
    assert parser_default == default_of(_config(spec), field), f"{command} --{dest.replace('_', '-')}"


def test_fetch_size_is_the_config_size_in_arcmin() -> None:
    assert _subparser("fetch").get_default("size") == pytest.approx(
        60 * default_of(_config("radioexplore.io.fetch:FetchConfig"), "size_deg")
    )


def test_evaluate_seeds_are_the_methods_config_seeds() -> None:
    seeds = _subparser("evaluate").get_default("seeds")
    assert tuple(int(s) for s in seeds.split(",")) == default_of(
        _config("radioexplore.ssl.compare:MethodsConfig"), "seeds"
    )


def test_default_of_reads_factories_and_names_unknown_fields() -> None:
    @dataclasses.dataclass(frozen=True)
    class C:
        a: int = 3
        b: tuple[int, ...] = dataclasses.field(default_factory=lambda: (1, 2))
        c: int = dataclasses.field(default=0)

    assert (default_of(C, "a"), default_of(C, "b"), default_of(C, "c")) == (3, (1, 2), 0)
    with pytest.raises(ValueError, match="C has no field 'z'"):
        default_of(C, "z")
