"""Peculiar objects, not artefacts (issue 24's acceptance): the default ranking and the taught queue.

Simulates small surveys with strong artefacts (each its own seed and ``artefact_strength``; every
DQF equally likely, so half the fields carry DQF 2-3 ripples; peculiar objects ``--peculiar-scale``
times the simulator's density so that a few dozen tiles hold one), ingests them in 128 px tiles
with the truth, embeds them by pixel statistics and ranks them with ``rank_run``'s default
(``peculiar``: max(anomaly quantile x (1 - tile artefact score), object quantile), each object
discounted by its own artefact score). Per survey and mean +- std:

(a) recall of peculiar tiles in the top ``--fraction`` (5%) of the default, of the same ranking
    without the artefact axis (``rank --method peculiar_no_axis``: no tile and no object discount)
    and of the parts they are built from (the plain forest, forest x (1 - tile axis), objects by
    shape alone, objects by shape x (1 - each object's own artefact score)), the same two rankings
    with each tile taking its best source's score (lobes of a double and its core joined,
    :mod:`radioexplore.ranking.sources`), the other ways the forest and the objects meet
    (``Method.combine``: ``objects_first``, ``forest_where_no_object``, ``objects_first_no_axis``, from
    the same columns), and a bound from the truth: the ranking without the axis
    with the tiles an artefact holds alone removed (a perfect artefact axis); beside each, the
    artefact tiles in the top and, of them, those not peculiar (``artefacts_only_top_*``); and the baseline
    "biggest object first" (each tile takes its largest object by area or by extent);
(b) a simulated astronomer through the code path of ``rerank`` and ``label``: the run's own
    :class:`LabelStore` and :func:`radioexplore.ranking.active_run.rerank_run`, 5 rounds of the 10 first
    queue tiles; oracle: peculiar -> PECULIAR / 5, artefact tile (simulator truth) -> ARTEFACT / 1,
    other extended -> RADIO-GALAXY / 3, else COMPACT / 1. Printed: peculiar tiles found within
    the 50 labels (of those in the survey; beside them, those in the unlabelled top 50: do the labels
    help?), and among rounds 2-5's 40 queued tiles the artefact tiles the astronomer labels ARTEFACT
    (artefact truth, not peculiar: the acceptance's figure) and all tiles with artefact truth (a
    peculiar object beside a bright source carries its ripples too: 50-86% of the peculiar tiles of
    these surveys, which the astronomer wants shown); the ARTEFACT count is split by whether the tile
    holds a simulated extended source and whether its ripple reaches :data:`DOMINANT_SIGMA`.

    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --surveys 1:3,2:4,3:6,4:5
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --no-teach   # labels do not teach the axis
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --liked-not-sky off --object-protect off   # before session 37
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --teach-monotone both   # troughs never taught as sky
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --far-prior quantile   # far from labels: the anomaly's place
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --no-sidelobes   # ARTEFACT labels skip their source
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --shape off   # the re-ranker without the object's shape (before session 38)
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --across-ratio 2   # ... and teach other fields
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --pattern-geometry   # ... the pattern's geometry
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --source-by-ripple   # ripples name their source
    python benchmarks/peculiar_vs_artefacts.py --out /tmp/pecbench --object-score shape_embedding --no-astronomer

``--object-score shape_embedding`` embeds each object's stamp with the backbone (the shipped demo
checkpoint: these runs are embedded by pixel statistics) and scores the objects by shape and
embedding (:mod:`radioexplore.ranking.object_embed`) before ranking; ``objects_embed`` is then
the rule of the objects by that score alone.

``--object-features physics`` gives the object forest a limb-brightened shell for the ring
(:mod:`radioexplore.ranking.ring`) and a double's extent beyond the survey's sources
(:mod:`radioexplore.ranking.giants`) instead of the standard features.

``--embedding`` picks the tile embedding the ranking and the astronomer use: ``pixelstats``
(default, the figures above), ``vit`` (what ``radioexplore embed`` writes by default: the CLS of
the shipped demo checkpoint, set ``vit``) or ``pooled`` (``pool-objects --tile-embedding vit
--no-shape``: the tile CLS beside its top object's stamp embedding from the same checkpoint,
network only; :mod:`radioexplore.ranking.object_pool`, rebuilt with each survey's objects).

``--morph on`` (the default, as `objects`) gives the known peculiar morphologies (ring, X-shaped, giant)
their own evidence beside the object forest (:mod:`radioexplore.ranking.morphology`: max(forest score,
evidence); ``--morph-forest quantile`` the forest's quantile instead); ``--morph off`` is the forest
alone, ``--morph none`` the forest's score through the same path (a control), ``--morph ring,giant``
some kinds only.

``--ripple-model on`` finds the objects with each bright source's ripple rings subtracted first
(:mod:`radioexplore.ranking.ripple_model`); ``--ripple-evidence`` and ``--detect-noise`` pick the
variants of :class:`radioexplore.ranking.objects.ObjectConfig` measured beside it (benchmarks/README.md).

``--lowsb-beams 2`` (or ``2,4``) also finds low-surface-brightness islands on the image smoothed to
that many beam FWHM (:mod:`radioexplore.ranking.lowsb`); ``--lowsb-features`` and ``--lowsb-explained``
pick its variants.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

# benchmarks/ is not a package: _common sits beside this script
from _common import add_active_arg, header, parse_surveys, with_active

from radioexplore.embed.embedding import EmbedConfig, embed_run
from radioexplore.embed.pixelstats import pixel_statistics_run
from radioexplore.ingest.images import IngestConfig, ingest
from radioexplore.ranking.active import ActiveConfig
from radioexplore.ranking.active_run import read_active, rerank_run
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.far_prior import PRIORS
from radioexplore.ranking.metrics import recall_in_top
from radioexplore.ranking.morphology import LOOK_ELSEWHERE, MorphConfig
from radioexplore.ranking.object_embed import embed_objects
from radioexplore.ranking.object_pool import ObjectPoolConfig, pool_run
from radioexplore.ranking.object_run import objects_run
from radioexplore.ranking.objects import FEATURE_SETS, ObjectConfig
from radioexplore.ranking.peculiar import METHODS, peculiarity, quantile_among, tile_best_objects
from radioexplore.ranking.queue import review_queue
from radioexplore.ranking.rank import rank_run
from radioexplore.ranking.sources import SourceConfig, by_source
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir
from radioexplore.simulation import SimulationConfig, simulate_survey, tile_artefact_truth
from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.kinds import PECULIAR_KINDS
from radioexplore.simulation.run_truth import attach_truth

#: A ripple that dominates its tile (issue 24, item 5: "10-30 sigma crests"): the ARTEFACT count is also split by it.
DOMINANT_SIGMA = 10.0


def prepare(work: Path, seed: int, strength: float, args: argparse.Namespace) -> tuple[RunDir, Path]:
    """Simulate, ingest with truth and embed by pixel statistics into ``work`` (reused when there)."""
    sim, run = work / "sim", RunDir(work / "run")
    if not run.embeddings("pixstats").is_file():
        base = SimulationConfig(
            fields=args.fields,
            size_px=args.size,
            seed=seed,
            artefact_strength=strength,
            dqf_probabilities=(0.25, 0.25, 0.25, 0.25),
        )
        base = replace(
            base, peculiar_per_sq_deg=tuple(round(args.peculiar_scale * d, 3) for d in base.peculiar_per_sq_deg)
        )
        simulate_survey(sim, base, progress=False)
        ingest(SimulationDir(sim).images(), run, IngestConfig(tile_px=args.tile, detect=False), progress=False)
        attach_truth(run, sim)
        pixel_statistics_run(run, "pixstats")
    return run, sim


def tile_embedding(run: RunDir, kind: str) -> str:
    """The embedding set ``kind`` of ``run`` (``--embedding``), made when missing; the pooled set is
    rebuilt from the run's current objects (its top object follows their scores). Returns its name."""
    if kind == "pixelstats":
        return "pixstats"
    if not run.embeddings("vit").is_file():
        embed_run(run, EmbedConfig(name="vit"), progress=False)  # `embed`'s default: the shipped demo checkpoint
    if kind == "vit":
        return "vit"
    embed_objects(run, pd.read_parquet(run.objects), checkpoint=run.stage_config("embed", "vit")["checkpoint_used"])
    return pool_run(run, ObjectPoolConfig(pool="top", shape=False, tile_embedding="vit")).stem


def oracle(peculiar: np.ndarray, artefact: np.ndarray, extended: np.ndarray):
    """The simulated astronomer of issue 24: (labels, interest) of a tile from the truth."""

    def judge(tile: int) -> tuple[list[str], int]:
        if peculiar[tile]:
            return ["PECULIAR"], 5
        if artefact[tile]:
            return ["ARTEFACT"], 1
        if extended[tile]:
            return ["RADIO-GALAXY"], 3
        return ["COMPACT"], 1

    return judge


def astronomer(run: RunDir, name: str, judge, config: ActiveConfig, rounds: int, per_round: int):
    """Label ``rounds`` x ``per_round`` queue tiles into the run's label store, re-ranking with
    :func:`rerank_run` after each round; returns (tiles labelled in order, queues per round, seconds)."""
    run.labels_db.unlink(missing_ok=True)
    store = LabelStore.for_run(run, who="oracle")
    rerank_run(run, name, config)
    seen, queues, seconds = [], [], []
    for _ in range(rounds):
        queue = review_queue(read_active(run, name), per_round, exclude=store.interest_scores().index)
        queues.append(queue)
        for tile in queue:
            labels, interest = judge(int(tile))
            store.add(int(tile), labels, interest=interest)
            seen.append(int(tile))
        t0 = time.perf_counter()
        rerank_run(run, name, config)
        seconds.append(time.perf_counter() - t0)
    return seen, queues, seconds


def ranked_scores(
    run: RunDir, tiles: pd.DataFrame, method: str, name: str = "pixstats", source_by_ripple: bool = False
) -> pd.DataFrame:
    """``rank_run`` of embedding ``name`` with ``method`` (its own code path, as ``rank --method``), scores in
    ``tiles`` order; ``source_by_ripple``: ``RankConfig.artefact_source_by_ripple``."""
    rank_run(run, name, RankConfig(method=method, artefact_source_by_ripple=source_by_ripple))
    return run.read_scores(name).set_index("tile_id").loc[tiles["tile_id"]]


def one_survey(work: Path, seed: int, strength: float, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    run, sim = prepare(work, seed, strength, args)
    tiles = run.read_tiles()
    peculiar = tiles["truth_peculiar"].to_numpy(bool)
    extended = tiles["truth_extended"].to_numpy(bool)
    artefact_truth = tile_artefact_truth(sim, tiles)
    artefact = artefact_truth["truth_artefact"].to_numpy(bool)
    # the "ripple rings ... strong enough to dominate tiles (10-30 sigma crests)": the ARTEFACT count split by it
    dominant = artefact_truth["truth_artefact_sigma"].to_numpy(float) >= DOMINANT_SIGMA
    object_config = ObjectConfig(
        score_from=args.object_score, forest_features=args.object_features, **args.object_detect
    )
    # the objects as `objects --score --features --morph` writes them, always found again: a table
    # another run left may have been made with other options
    objects_run(run, object_config, progress=False, morph=args.morph_config, sources=args.sources)
    name = tile_embedding(run, args.embedding)
    no_axis = ranked_scores(run, tiles, "peculiar_no_axis", name, args.source_by_ripple)["score"].to_numpy()
    # default: peculiar; last, so the astronomer starts from it
    s = ranked_scores(run, tiles, args.method, name, args.source_by_ripple)
    keep = (s["anomaly_score"] > 0).to_numpy() if "anomaly_score" in s else np.ones(len(s), bool)
    qa = quantile_among(s["anomaly_score"].to_numpy(), keep)
    clean = 1.0 - np.clip(np.nan_to_num(s["artefact_score"].to_numpy(dtype=float)), 0, 1)
    objects = pd.read_parquet(run.objects) if run.objects.is_file() else None
    f = args.fraction
    rules = {
        "default": s["score"].to_numpy(),
        "no_axis": no_axis,
        "forest": np.where(keep, qa, 0),
        "forest_x_axis": np.where(keep, qa * clean, 0),
    }
    if objects is not None:  # objects alone: by shape, and by shape x (1 - each object's artefact score)
        pairs = [("objects", "shape_score"), ("objects_x_axis", "score")]
        if "embed_score" in objects.columns:
            pairs.append(("objects_embed", "embed_score"))
        # the trivial baseline issue 24 measured on real MeerKAT sources: the biggest object first
        pairs += [("biggest_area", "area_beams"), ("biggest_extent", "extent_beams")]
        for key, column in pairs:
            best = tile_best_objects(objects, len(tiles), column)
            score = np.where(best >= 0, objects[column].to_numpy(dtype=float)[np.maximum(best, 0)], 0.0)
            rules[key] = np.where(keep, quantile_among(score, keep), 0)
        # how the forest and the objects meet (Method.combine), from the same columns: objects first, the
        # forest only where no object lies, and objects first without the axis (its no-axis match)
        for key in ("peculiar", "objects_first", "forest_where_no_object", "objects_first_no_axis"):
            method = METHODS[key]
            best = tile_best_objects(objects, len(tiles), method.object_column)
            score = np.where(best >= 0, objects[method.object_column].to_numpy(dtype=float)[np.maximum(best, 0)], 0.0)
            art = s["artefact_score"].to_numpy(dtype=float)
            rules[key] = peculiarity(s["anomaly_score"].to_numpy(), score, art, keep, method, best >= 0)
        if "source_id" in objects.columns:  # each tile takes its best source's score (lobes and core joined)
            sources = by_source(objects)
            for key, column, factor in (("default_sources", "score", clean), ("no_axis_sources", "shape_score", 1.0)):
                best = tile_best_objects(sources, len(tiles), column)
                score = np.where(best >= 0, sources[column].to_numpy(dtype=float)[np.maximum(best, 0)], 0.0)
                rules[key] = np.where(keep, np.maximum(qa * factor, quantile_among(score, keep)), 0)
    # a bound, from the truth: the ranking without the axis, the tiles an artefact holds alone removed
    # (what a perfect artefact axis could do for it; compare with twice the ranking without the axis)
    rules["no_axis_perfect_axis"] = np.where(artefact & ~peculiar, 0.0, no_axis)
    row = dict(
        seed=seed, strength=strength, tiles=len(tiles), peculiar=int(peculiar.sum()), artefact=int(artefact.sum())
    )
    # which peculiar kind each tile holds (a tile may hold two: it counts for each), and the peculiar tiles the
    # detector left without any object, which no object-led ranking or label can lift
    kinds = {
        k: peculiar & tiles["truth_kinds"].astype(str).str.split(",").map(lambda ks, k=k: k in ks).to_numpy(bool)
        for k in sorted(PECULIAR_KINDS)
    }
    for k, holds in kinds.items():
        row[f"peculiar_{k}"] = int(holds.sum())
    if objects is not None:
        row["peculiar_no_object"] = int((peculiar & (tile_best_objects(objects, len(tiles)) < 0)).sum())
    for key, score in rules.items():
        row[f"recall_{key}"] = recall_in_top(score, peculiar, f)
        k = max(1, int(round(f * len(score))))
        top = np.argsort(-score, kind="stable")[:k]
        row[f"artefacts_top_{key}"] = int(artefact[top].sum())
        # of them, those that are not peculiar too (what the astronomer labels ARTEFACT)
        row[f"artefacts_only_top_{key}"] = int((artefact & ~peculiar)[top].sum())
    if args.no_astronomer:
        row["seconds"] = time.perf_counter() - t0
        return row
    seen, queues, seconds = astronomer(run, name, oracle(peculiar, artefact, extended), args.active, 5, 10)
    row["found_in_50"] = int(peculiar[seen].sum())
    # what the same 50 looks would have found without labels: the default ranking's top 50 (do the labels help?)
    unlabelled = np.argsort(-s["score"].to_numpy(), kind="stable")[: len(seen)]
    row["found_top50_unlabelled"] = int(peculiar[unlabelled].sum())
    row["found_share"] = row["found_in_50"] / max(1, int(peculiar.sum()))
    for k, holds in kinds.items():
        row[f"found_{k}"] = int(holds[seen].sum())
        row[f"top50_{k}"] = int(holds[unlabelled].sum())
    labelled_artefact = artefact & ~peculiar  # what the oracle labels ARTEFACT
    row["artefacts_round1"] = int(labelled_artefact[queues[0]].sum())

    def rounds_2_5(mask: np.ndarray) -> int:  # the tiles of ``mask`` the queue showed in rounds 2-5
        return int(sum(mask[q].sum() for q in queues[1:]))

    row["artefacts_rounds_2_5"] = rounds_2_5(labelled_artefact)
    row["artefact_truth_rounds_2_5"] = rounds_2_5(artefact)
    # of the tiles labelled ARTEFACT in rounds 2-5: those holding a simulated extended source (a radio galaxy the
    # oracle calls ARTEFACT for a ripple crossing it) and those whose ripple reaches DOMINANT_SIGMA
    row["artefacts_rounds_2_5_extended"] = rounds_2_5(labelled_artefact & extended)
    row["artefacts_rounds_2_5_dominant"] = rounds_2_5(labelled_artefact & dominant)
    # the price of not labelling: the artefacts the unlabelled ranking shows at ranks 11-50
    row["artefacts_unlabelled_11_50"] = int(labelled_artefact[unlabelled[len(queues[0]) :]].sum())
    row["rerank_s"] = float(np.median(seconds))
    row["seconds"] = time.perf_counter() - t0
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="work folder, one sub-folder per survey (reused)")
    p.add_argument("--surveys", default="1:3,2:4,3:6", help="SEED:ARTEFACT_STRENGTH,... (at least 3)")
    p.add_argument("--fields", type=int, default=8)
    p.add_argument("--size", type=int, default=1024, help="field side, px")
    p.add_argument("--tile", type=int, default=128, help="tile side, px")
    p.add_argument("--peculiar-scale", type=float, default=8.0, help="multiplies the density of peculiar objects")
    p.add_argument("--fraction", type=float, default=0.05, help="top fraction (issue 24: 5%%)")
    p.add_argument("--method", default=RankConfig.method, help="rank's method (radioexplore.ranking.peculiar.METHODS)")
    p.add_argument("--artefact-discount", action="store_true", help="re-rank with ActiveConfig(artefact_discount=True)")
    p.add_argument(
        "--spread", type=float, default=None, help="ActiveConfig(spread=...): a label's reach to touching tiles"
    )
    p.add_argument("--weight", type=float, default=None, help="ActiveConfig(weight=...): predicted interest's share")
    p.add_argument(
        "--teach-prevalence",
        choices=("balanced", "labels"),
        default=ActiveConfig.teach_prevalence,
        help="ActiveConfig(teach_prevalence=...): the labels' artefact classifier at equal priors or at the labels' "
        "own share of ARTEFACT (ranking.teach.at_prevalence)",
    )
    p.add_argument(
        "--artefact-weight",
        type=float,
        default=None,
        help="ActiveConfig(artefact_weight=...): the artefact block's variance beside the embedding's for the regressor",
    )
    p.add_argument("--blend", default=None, help="ActiveConfig(blend=...): ranking.blends.BLENDS")
    p.add_argument("--no-teach", action="store_true", help="re-rank with ActiveConfig(artefact_teach=False)")
    p.add_argument(
        "--no-sidelobes",
        action="store_true",
        help="re-rank with ActiveConfig(sidelobe_ratio=0): an ARTEFACT label does not reach its bright source's tiles",
    )
    p.add_argument(
        "--sidelobe-symmetric",
        action="store_true",
        help="ActiveConfig(sidelobe_closer=False): only tiles within the factor in distance, not every nearer one",
    )
    p.add_argument("--teach-field-context", action="store_true", help="ActiveConfig(teach_field_context=True)")
    p.add_argument(
        "--object-protect",
        nargs="?",
        const="on",
        choices=("on", "off"),
        default=None,
        help="ActiveConfig(artefact_object_protect=...): on (the default since session 37; bare flag: on) or off",
    )
    p.add_argument(
        "--liked-not-sky",
        nargs="?",
        const="on",
        choices=("on", "off"),
        default=None,
        help="on (the default since session 37; bare flag: on): ActiveConfig(liked_teach_sky=False), tiles scored 4-5 "
        "do not teach that their artefact evidence is sky; off: liked_teach_sky=True, as before",
    )
    p.add_argument(
        "--teach-monotone",
        choices=("off", "sign", "floor", "both"),
        default=ActiveConfig.teach_monotone,
        help="ActiveConfig(teach_monotone=...): the labels' artefact classifier may not read error evidence as sky: "
        "its weights >= 0 (sign), its probability never below the axis score (floor), or both (ranking.monotone)",
    )
    p.add_argument(
        "--pattern-geometry",
        action="store_true",
        help="ActiveConfig(pattern_geometry=True): the labels' regression also reads the tile's top object's "
        "alignment with its bright source's error pattern (ranking.pattern_geometry; tried, not the default)",
    )
    p.add_argument("--sidelobe-whole-field", action="store_true", help="ActiveConfig(sidelobe_whole_field=True)")
    p.add_argument(
        "--source-by-ripple",
        action="store_true",
        help="RankConfig(artefact_source_by_ripple=True): the artefact axis's bright source named by the tile's "
        "ripple direction too (ArtefactConfig.source_by_ripple; tried, not the default)",
    )
    p.add_argument(
        "--across-ratio",
        type=float,
        default=ActiveConfig.across_ratio,
        help="ActiveConfig(across_ratio=...): an ARTEFACT label sinks tiles of any field whose own error evidence "
        "reaches its own / this factor (ranking.across; 2 tried; 0 off)",
    )
    p.add_argument(
        "--across-power", type=float, default=ActiveConfig.across_power, help="ActiveConfig(across_power=...)"
    )
    p.add_argument(
        "--across-min-sigma",
        type=float,
        default=ActiveConfig.across_min_sigma,
        help="ActiveConfig(across_min_sigma=...)",
    )
    p.add_argument(
        "--shape",
        choices=("off", "both", "discount"),
        default="both",
        help="the re-ranker sees the top object's shape: ActiveConfig(shape_weight=0.5, shape_protect=True) and a "
        "tile shaped like one scored 4-5 spared the taught artefact discount and the ARTEFACT look-alikes' push-down "
        "(both, the default since session 38) or the discount only (discount, shape_protect_reach=False); off: "
        "shape_weight=0, shape_protect=False (the default before)",
    )
    p.add_argument(
        "--far-prior",
        choices=("off", *PRIORS),
        default=ActiveConfig.far_prior,
        help="ActiveConfig(far_prior=...): far from every labelled tile the regressor's prediction falls back to "
        "the anomaly quantile or to the lowest interest (ranking.far_prior)",
    )
    p.add_argument(
        "--x-arms-pixels",
        choices=("island", "source"),
        default=None,
        help="ObjectConfig(x_arms_pixels=...): a one-island X read on the whole island or its pixels at the source threshold",
    )
    p.add_argument(
        "--lanes",
        action="store_true",
        help="ActiveConfig(lanes=True): once labelled, rank's forest and object lanes weighted by the interest "
        "their labelled tiles earned (ranking.lanes)",
    )
    p.add_argument("--seed", type=int, default=0, help="the re-ranker's seed (its random forest)")
    p.add_argument(
        "--object-score",
        choices=("shape", "shape_embedding"),
        default="shape",
        help="objects' score: shape features, or shape + stamp embedding (ObjectConfig.score_from)",
    )
    p.add_argument(
        "--object-features",
        choices=tuple(FEATURE_SETS),
        default="standard",
        help="the shape forest's features (ObjectConfig.forest_features): standard, or physics (a limb-brightened "
        "shell for the ring, a double's extent beyond the survey's sources)",
    )
    p.add_argument(
        "--embedding",
        choices=("pixelstats", "vit", "pooled"),
        default="pixelstats",
        help="tile embedding ranked and taught: pixel statistics (default), `embed`'s demo ViT CLS, or that CLS "
        "beside the top object's stamp embedding (`pool-objects --no-shape`)",
    )
    p.add_argument(
        "--ripple-model",
        choices=("default", "on", "off"),
        default="default",
        help="subtract each bright source's ripple model before finding objects (ObjectConfig.ripple_model)",
    )
    p.add_argument(
        "--ripple-evidence",
        choices=("image", "cleaned", "model"),
        default=None,
        help="with the ripple model: troughs round an island read from the image or the model-subtracted one",
    )
    p.add_argument(
        "--detect-noise",
        choices=("mesh", "envelope"),
        default=None,
        help="objects' islands against the local mesh rms or the field's noise envelope (ObjectConfig.detect_noise)",
    )
    p.add_argument("--object-seed", type=int, default=None, help="seed of the object forest (ObjectConfig.seed)")
    p.add_argument(
        "--lowsb-beams",
        default=None,
        help="also find low-surface-brightness islands on the image smoothed to these beam FWHM, e.g. 2 or 2,4 "
        "(ObjectConfig.lowsb_beams; ranking/lowsb.py)",
    )
    p.add_argument(
        "--lowsb-features",
        choices=("full", "smoothed"),
        default=None,
        help="low-resolution islands' S/N features and troughs from the full-resolution or the smoothed image",
    )
    p.add_argument(
        "--lowsb-source-troughs",
        choices=("off", "radial", "any"),
        default=None,
        help="low-resolution islands' artefact evidence also counts the troughs at their distance from the bright "
        "sources they point at (radial) or from any (ObjectConfig.lowsb_source_troughs)",
    )
    p.add_argument(
        "--lowsb-explained",
        type=float,
        default=None,
        help="keep a low-resolution island when full-resolution islands explain less than this share of its flux",
    )
    p.add_argument(
        "--plane-waves",
        choices=("on", "off"),
        default="on" if ObjectConfig.plane_waves else "off",
        help="subtract the plane waves found in each field's Fourier transform before finding objects "
        "(ObjectConfig.plane_waves; ranking/plane_waves.py)",
    )
    p.add_argument(
        "--morph",
        default="on",
        help="evidence of the known peculiar morphologies beside the object forest (ranking.morphology): off, on "
        "(ring, X-shape, giant), none (the forest's quantile alone, a control) or a comma list of ring,x,giant",
    )
    p.add_argument(
        "--morph-extended", type=float, default=MorphConfig.extended_factor, help="MorphConfig.extended_factor"
    )
    p.add_argument("--morph-scale", type=float, default=MorphConfig.scale_factor, help="MorphConfig.scale_factor")
    p.add_argument(
        "--morph-forest",
        choices=("quantile", "score"),
        default=MorphConfig.forest,
        help="MorphConfig.forest: the evidence max-ed with the forest's quantile among the objects or its score",
    )
    p.add_argument(
        "--morph-x-full",
        type=float,
        default=MorphConfig.x_full_crossing_deg,
        help="MorphConfig.x_full_crossing_deg: a three-island X crossing at this angle or more reads full evidence",
    )
    p.add_argument(
        "--morph-faint-lobes",
        choices=("on", "off"),
        default="on" if MorphConfig.faint_lobes else "off",
        help="MorphConfig.faint_lobes: a joined double's giant evidence x min(1, 2 Phi(-z)), z of its brighter lobe's "
        "surface brightness among the survey's extended islands (a giant's lobes are faint per beam)",
    )
    p.add_argument(
        "--morph-lobe-cores",
        choices=("on", "off"),
        default="on" if MorphConfig.lobe_cores else "off",
        help="MorphConfig.lobe_cores: a joined double one of whose lobes has emission on both sides of its brightest "
        "beam (a core of its own, two-sided jets) reads no giant evidence",
    )
    p.add_argument(
        "--morph-look-elsewhere",
        choices=LOOK_ELSEWHERE,
        default=MorphConfig.look_elsewhere,
        help="MorphConfig.look_elsewhere: the giant evidence's Phi(z) ** family over the survey's extended sources "
        "or its joined doubles",
    )
    p.add_argument(
        "--morph-bridge-snr",
        type=float,
        default=MorphConfig.bridge_snr,
        help="MorphConfig.bridge_snr: a joined double reads giant evidence only with a bridge S/N of at least this "
        "(emission between its lobes on the image smoothed to 3 beams); 0: off",
    )
    p.add_argument(
        "--source-one-sided-lobes",
        choices=("on", "off"),
        default="on" if SourceConfig.one_sided_lobes else "off",
        help="SourceConfig.one_sided_lobes: an island with emission on both sides of its own brightest beam (a galaxy "
        "with jets round its own core) is no lobe candidate when islands are joined into doubles",
    )
    p.add_argument(
        "--source-round-lobes",
        choices=("on", "off"),
        default="on" if SourceConfig.round_lobes else "off",
        help="SourceConfig.round_lobes: a resolved island without an axis may be a lobe beside a core",
    )
    add_active_arg(p)
    p.add_argument("--no-astronomer", action="store_true", help="unsupervised figures (a) only")
    p.add_argument("--table", type=Path, default=None, help="also write the per-survey figures to this CSV")
    args = p.parse_args()
    kinds = {"on": MorphConfig.kinds, "none": ()}.get(args.morph, tuple(k for k in args.morph.split(",") if k))
    args.morph_config = (
        None
        if args.morph == "off"
        else MorphConfig(
            kinds=kinds,
            extended_factor=args.morph_extended,
            scale_factor=args.morph_scale,
            forest=args.morph_forest,
            x_full_crossing_deg=args.morph_x_full,
            faint_lobes=args.morph_faint_lobes == "on",
            lobe_cores=args.morph_lobe_cores == "on",
            look_elsewhere=args.morph_look_elsewhere,
            bridge_snr=args.morph_bridge_snr,
        )
    )
    args.sources = SourceConfig(
        one_sided_lobes=args.source_one_sided_lobes == "on", round_lobes=args.source_round_lobes == "on"
    )
    args.object_detect = {} if args.ripple_model == "default" else {"ripple_model": args.ripple_model == "on"}
    if args.x_arms_pixels:
        args.object_detect["x_arms_pixels"] = args.x_arms_pixels
    if args.ripple_evidence:
        args.object_detect["ripple_evidence"] = args.ripple_evidence
    if args.detect_noise:
        args.object_detect["detect_noise"] = args.detect_noise
    if args.object_seed is not None:
        args.object_detect["seed"] = args.object_seed
    if args.lowsb_beams is not None:
        args.object_detect["lowsb_beams"] = tuple(float(b) for b in args.lowsb_beams.split(",") if b.strip())
    if args.lowsb_features:
        args.object_detect["lowsb_features"] = args.lowsb_features
    if args.lowsb_source_troughs:
        args.object_detect["lowsb_source_troughs"] = args.lowsb_source_troughs
    if args.lowsb_explained is not None:
        args.object_detect["lowsb_explained"] = args.lowsb_explained
    if args.plane_waves != ("on" if ObjectConfig.plane_waves else "off"):
        args.object_detect["plane_waves"] = args.plane_waves == "on"
    args.active = ActiveConfig(
        artefact_discount=args.artefact_discount,
        artefact_teach=not args.no_teach,
        seed=args.seed,
        **({"spread": args.spread} if args.spread is not None else {}),
        **({"weight": args.weight} if args.weight is not None else {}),
        **({"blend": args.blend} if args.blend is not None else {}),
        **({"artefact_weight": args.artefact_weight} if args.artefact_weight is not None else {}),
        teach_prevalence=args.teach_prevalence,
        **({"sidelobe_ratio": 0.0} if args.no_sidelobes else {}),
        **({"sidelobe_closer": False} if args.sidelobe_symmetric else {}),
        **({"sidelobe_whole_field": True} if args.sidelobe_whole_field else {}),
        **({"teach_field_context": True} if args.teach_field_context else {}),
        **({"artefact_object_protect": args.object_protect == "on"} if args.object_protect else {}),
        **({"liked_teach_sky": args.liked_not_sky == "off"} if args.liked_not_sky else {}),
        **({"lanes": True} if args.lanes else {}),
        far_prior=args.far_prior,
        **({"pattern_geometry": True} if args.pattern_geometry else {}),
        **(
            {"shape_weight": 0.0, "shape_protect": False}
            if args.shape == "off"
            else {"shape_weight": 0.5, "shape_protect": True, "shape_protect_reach": args.shape == "both"}
        ),
        teach_monotone=args.teach_monotone,
        across_ratio=args.across_ratio,
        across_power=args.across_power,
        across_min_sigma=args.across_min_sigma,
    )
    args.active = with_active(p, args.active, args.active_set)
    header("peculiar objects vs artefacts: unsupervised recall and the simulated astronomer (issue 24)")
    rows = []
    for seed, strength in parse_surveys(args.surveys):
        rows.append(one_survey(args.out / f"s{seed}_{strength:g}", seed, strength, args))
        r = rows[-1]
        print(
            f"seed {seed} strength {strength:g}: {r['tiles']} tiles, {r['peculiar']} peculiar, {r['artefact']} artefact; "
            f"recall top {100 * args.fraction:g}%: default {r['recall_default']:.2f}, no axis {r['recall_no_axis']:.2f}, "
            f"forest {r['recall_forest']:.2f}, forest x axis {r['recall_forest_x_axis']:.2f}, objects "
            f"{r.get('recall_objects', np.nan):.2f}, objects x axis {r.get('recall_objects_x_axis', np.nan):.2f}; artefacts in the top: default "
            f"{r['artefacts_top_default']}, no axis {r['artefacts_top_no_axis']}"
            + (f"; objects by shape + embedding {r['recall_objects_embed']:.2f}" if "recall_objects_embed" in r else "")
            + (
                f"; tiles take their best source's: default {r['recall_default_sources']:.2f}, no axis "
                f"{r['recall_no_axis_sources']:.2f}"
                if "recall_default_sources" in r
                else ""
            )
            + f"; bound, no axis with a perfect artefact axis {r['recall_no_axis_perfect_axis']:.2f}"
            + (f"; biggest object first {r['recall_biggest_area']:.2f}" if "recall_biggest_area" in r else "")
            + (
                ""
                if args.no_astronomer
                else f"; astronomer: {r['found_in_50']} of "
                f"{r['peculiar']} peculiar found in 50 labels (the unlabelled top 50: {r['found_top50_unlabelled']}, with {r['artefacts_unlabelled_11_50']} artefacts at its ranks 11-50), artefacts (labelled ARTEFACT) queued round 1 "
                f"{r['artefacts_round1']}, rounds 2-5 {r['artefacts_rounds_2_5']} (with artefact truth, peculiar too: "
                f"{r['artefact_truth_rounds_2_5']}); re-rank {r['rerank_s']:.2f} s"
            )
            + f"; {r['seconds']:.0f} s",
            flush=True,
        )
    df = pd.DataFrame(rows)
    if args.table:
        df.to_csv(args.table, index=False)
    print(f"\nover {len(df)} surveys (mean +- std), tile embedding {args.embedding}:")
    for col in [c for c in df.columns if c not in ("seed", "strength")]:
        v = df[col].astype(float)
        print(f"  {col}: {v.mean():.3f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}")
    strong = df[df["strength"] > 1]  # above 1 the simulator adds the wide ripples of real DQF 2-3 fields
    for label, part in (
        ("strong artefacts (strength > 1)", strong),
        ("today's artefacts (strength <= 1)", df[df["strength"] <= 1]),
    ):
        if len(part):
            d, n = part["recall_default"], part["recall_no_axis"]
            print(
                f"recall top {100 * args.fraction:g}%, {label}, {len(part)} surveys: default {d.mean():.3f} +- "
                f"{d.std(ddof=1) if len(d) > 1 else 0.0:.3f}, without the axis {n.mean():.3f} +- "
                f"{n.std(ddof=1) if len(n) > 1 else 0.0:.3f} (per survey {' '.join(f'{v:.2f}' for v in d)} vs "
                f"{' '.join(f'{v:.2f}' for v in n)})"
            )
    a, b = strong["recall_default"].mean(), strong["recall_no_axis"].mean()
    verdict = (
        "n/a (fewer than 3 surveys of strength > 1)"
        if len(strong) < 3
        else ("PASS" if a >= 0.5 and a >= 2 * b else "FAIL")
    )
    print(
        f"\nacceptance (a) recall >= 0.5 and >= 2x without the axis, over the strong surveys: {verdict} "
        f"({a:.2f} vs {b:.2f}: {a / b if b > 0 else float('inf'):.2f}x)"
    )
    if args.no_astronomer:
        return 0
    by_kind = ", ".join(
        f"{k} {df[f'found_{k}'].sum()} / {df[f'top50_{k}'].sum()} / {df[f'peculiar_{k}'].sum()}"
        for k in sorted(PECULIAR_KINDS)
    )
    print(
        f"peculiar tiles by kind, found in 50 labels / in the unlabelled top 50 / in all (sums over the surveys): {by_kind}"
        + (
            f"; holding no object the detector found: {df['peculiar_no_object'].sum()} of {df['peculiar'].sum()}"
            if "peculiar_no_object" in df
            else ""
        )
    )
    found, art = df["found_share"].mean(), df["artefacts_rounds_2_5"].mean()
    print(
        f"acceptance (b) half the peculiar tiles within 50 labels: {'PASS' if found >= 0.5 else 'FAIL'} ({found:.2f}); "
        f"<= 3 artefacts (labelled ARTEFACT) in rounds 2-5: {'PASS' if art <= 3 else 'FAIL'} ({art:.1f}; tiles "
        f"with artefact truth, peculiar ones too: {df['artefact_truth_rounds_2_5'].mean():.1f})"
    )
    if "artefacts_rounds_2_5_extended" in df:
        print(
            f"  of the tiles labelled ARTEFACT in rounds 2-5 (mean per survey {art:.2f}): holding a simulated extended "
            f"source {df['artefacts_rounds_2_5_extended'].mean():.2f}, with a ripple of {DOMINANT_SIGMA:g} sigma or more "
            f"(the issue's dominant crests) {df['artefacts_rounds_2_5_dominant'].mean():.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
