"""How well the diffuse-emission U-Net (seed 004) segments halos and relics and detects clusters, on held-out skies.

Simulates surveys with seeds never used in training (the shipped checkpoint learnt from seeds 100-107),
with the default cluster mix (halo in 30% of fields, relic in 25%: about half the clusters host
diffuse emission, as in seed 004's test set), segments every field as ``radioexplore segment``
does (192 px tiles, 32 px overlap cropped; the same inference options, ``SegmentConfig``'s defaults
unless --tta, --min-beams, --max-compact, --max-negative, --spoke-sigma, --cut-pattern, --edge-sigma say otherwise: the region tests
of :mod:`radioexplore.segmentation.regions`, dihedral test-time augmentation with --tta; the pixel
threshold is --threshold, else the one stored in the checkpoint, else 0.5, with --core-threshold a
hysteresis (:mod:`radioexplore.segmentation.mask_rule`; a stored core goes with a stored threshold);
--calib-threshold picks it on the calibration surveys instead, --calib-seeds, pooled, over --calib-grid (with
--calib-core-grid the (threshold, core) pair), and --store-threshold writes that choice into the
checkpoint) and prints per survey, then mean +- std over surveys:

- pixel IoU of the mask (probability > --threshold) against the simulator's diffuse truth, for
  halos and for relics (predicted pixels on another diffuse kind are left out of that kind's union)
  and for all diffuse emission, summed over the survey's fields; per kind both strict (every
  false-positive pixel of the survey counts against halos and against relics: ``iou_halo``) and
  object-wise (only predicted regions touching that kind's truth count: ``iou_halo_obj``);
- per cluster, the detection ratio R (sum of probability / imaged pixels within R500 of the centre; with
  --region-reach also the mask regions touching that aperture, out to that many R500)
  against "diffuse truth within R500": accuracy, precision and false-negative rate at
  --r-threshold (seed 004: 0.015 gave 73% / 72% / 17%), the same at the R threshold that maximises
  accuracy on the calibration surveys' clusters pooled (--calib-seeds, never trained on), and the ROC AUC of R;
- the false-positive rate on radio galaxies: the share of FR I, FR II and bent-tail galaxies away
  from diffuse truth (no diffuse pixel within 10 px of a key point) with a key point (core,
  hotspot, lobe) on a pixel above --threshold (5 x 5 px max), for each checkpoint given, e.g. one
  trained with and one without radio galaxies in its skies.

    python benchmarks/diffuse_segmentation.py
    python benchmarks/diffuse_segmentation.py --checkpoint a.pt --checkpoint b.pt --seeds 201,202 --fields 24
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import header  # benchmarks/ is not a package: _common sits beside this script
from scipy.ndimage import binary_dilation, maximum_filter
from sklearn.metrics import roc_auc_score

from radioexplore.assets import diffuse_checkpoint
from radioexplore.io.fits import read_image
from radioexplore.segmentation.calibration import THRESHOLD_GRID, best_pair, best_threshold, iou_counts, pooled_iou
from radioexplore.segmentation.clusters import detection_ratio, region_ratio
from radioexplore.segmentation.detection_metrics import detection_metrics
from radioexplore.segmentation.run import SegmentConfig, clean_field, resolved
from radioexplore.segmentation.scaling import beam_fwhm_px, field_input, noise_grid, taper_channel
from radioexplore.segmentation.tiling import segment_array
from radioexplore.segmentation.train import (
    input_options,
    load_segmenter,
    noise_background,
    store_calibration,
    taper_beams,
)
from radioexplore.simulation import SimulationConfig, simulate_survey
from radioexplore.simulation.diffuse import read_diffuse_truth
from radioexplore.simulation.folder import SimulationDir

GALAXIES = ("fr1", "fr2", "bent")


class MeanProbability(torch.nn.Module):
    """Several networks as one (--ensemble): the logit of the mean of their probabilities, so that the tiling's
    sigmoid returns that mean. A measured reference: ``radioexplore segment`` runs one network."""

    def __init__(self, models: list[torch.nn.Module]) -> None:
        super().__init__()
        self.models = torch.nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.stack([torch.sigmoid(m(x).float()) for m in self.models]).mean(0)
        return torch.logit(p, eps=1e-6)


def load_models(paths: list[Path], ensemble: bool) -> list[tuple[str, torch.nn.Module, dict, Path | None]]:
    """(name, network, checkpoint entries, path to store a threshold in) per checkpoint, or one for their
    ensemble (the first checkpoint's recipe and calibration; no path: its threshold is not stored)."""
    loaded = [(path, *load_segmenter(path)) for path in paths]
    if not ensemble:
        return [(path.name, model, meta, path) for path, model, meta in loaded]
    backgrounds = {noise_background(meta) for _, _, meta in loaded}
    if len(backgrounds) > 1:
        raise SystemExit(f"error: --ensemble of checkpoints scaled with different noise backgrounds {backgrounds}")
    if len({taper_beams(meta) for _, _, meta in loaded}) > 1:
        raise SystemExit("error: --ensemble of checkpoints with different input channels (--taper-beams)")
    name = "ensemble of " + " + ".join(path.name for path, _, _ in loaded)
    return [(name, MeanProbability([m for _, m, _ in loaded]).eval(), loaded[0][2], None)]


def network_key(model: torch.nn.Module, meta: dict) -> str:
    """A short hash of a network's weights and recipe (not of its stored threshold): the --cache key."""
    digest = hashlib.sha1(json.dumps(meta.get("recipe", {}), sort_keys=True, default=str).encode())
    for value in model.state_dict().values():
        digest.update(value.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def segment_survey(
    sim: Path, model, meta: dict, fields: int, config: SegmentConfig, cache: Path | None = None
) -> dict[str, tuple]:
    """Per field of a simulated survey: (raw probability map, NaN at blanks; FitsImage; noise grid), with
    ``config.tta`` as ``radioexplore segment`` runs it; :func:`clean` then applies the region tests.
    ``cache``: a folder where the raw maps are kept per network, survey and TTA setting and read back on a
    later run (the same maps; saves segmenting the calibration surveys again for each test set)."""
    recipe = meta.get("recipe", {})
    where = None
    if cache is not None:
        where = cache / network_key(model, meta) / f"{Path(sim).resolve().name}_tta{int(config.tta)}"
        where.mkdir(parents=True, exist_ok=True)
    tile, margin = int(recipe.get("tile_px", 192)), int(recipe.get("margin_px", 32))
    out = {}
    for i in range(fields):
        name = f"field_{i:03d}"
        image = read_image(SimulationDir(sim).image(f"{name}.fits"))
        pixels = image.read()
        grid = noise_grid(pixels, background_px=noise_background(meta))  # the region tests' noise, as tuned
        if where is not None and (where / f"{name}.npy").is_file():
            out[name] = (np.load(where / f"{name}.npy"), image, grid)
            continue
        options = input_options(meta)
        given, input_grid = (
            field_input(pixels, **options, beam_px=beam_fwhm_px(image))
            if options["from_below"] or options["ripples"]
            else (pixels, grid)
        )
        beams = taper_beams(meta)  # a second input channel, the field tapered to that many beams
        extra = taper_channel(given, beams, beam_fwhm_px(image)) if beams > 0 else None
        prob = segment_array(given, input_grid, model, tile=tile, margin=margin, tta=config.tta, extra=extra)
        out[name] = (prob, image, grid)
        if where is not None:
            np.save(where / f"{name}.npy", prob)
    return out


def clean(raw: dict[str, tuple], config: SegmentConfig) -> dict[str, np.ndarray]:
    """The maps ``radioexplore segment`` writes: each raw map through the library's region cleaning."""
    return {name: clean_field(prob, image, grid, config) for name, (prob, image, grid) in raw.items()}


def best_pixel_threshold(
    surveys: list[tuple[dict[str, tuple], Path]], config: SegmentConfig, grid: tuple[float, ...] = THRESHOLD_GRID
) -> tuple[float, dict[float, float]]:
    """The pixel threshold of ``grid`` that maximises the mean strict halo and relic IoU over the calibration
    surveys' fields pooled (:func:`radioexplore.segmentation.calibration.best_threshold`), each candidate with
    the region cleaning at that threshold; and each candidate's score."""
    truths = {sim: {name: read_diffuse_truth(sim, name) for name in raw} for raw, sim in surveys}

    def counts_at(t: float) -> list[dict]:
        cfg = replace(config, threshold=t)
        return [
            iou_counts(np.nan_to_num(prob, nan=0.0) > t, truths[sim][name])
            for raw, sim in surveys
            for name, prob in clean(raw, cfg).items()
        ]

    return best_threshold(counts_at, grid)


def best_hysteresis(
    surveys: list[tuple[dict[str, tuple], Path]],
    config: SegmentConfig,
    grid: tuple[float, ...],
    cores: tuple[float, ...],
) -> tuple[tuple[float, float | None], dict]:
    """The (mask threshold, core threshold) pair maximising the mean strict halo / relic IoU over the calibration
    surveys pooled (:func:`radioexplore.segmentation.calibration.best_pair`): every core of ``cores`` with every mask
    threshold of ``grid`` below it, and each core alone as a plain threshold (core None); region tests at each."""
    truths = {sim: {name: read_diffuse_truth(sim, name) for name in raw} for raw, sim in surveys}
    pairs = [(low, high) for high in cores for low in grid if low < high] + [(high, None) for high in cores]

    def counts_at(low: float, high: float | None) -> list[dict]:
        cfg = replace(config, threshold=low, core_threshold=high)
        return [
            iou_counts(np.nan_to_num(prob, nan=0.0) > low, truths[sim][name])
            for raw, sim in surveys
            for name, prob in clean(raw, cfg).items()
        ]

    return best_pair(counts_at, pairs)


def pixel_iou(probs: dict[str, np.ndarray], sim: Path, threshold: float) -> dict[str, float]:
    """Survey-summed IoU per kind, strict (``<kind>``) and object-wise (``<kind>_obj``), and for all diffuse truth.

    Strict: every predicted pixel off the other kinds' truth counts against the kind, so a false
    blob on a radio galaxy lowers the halo and the relic IoU alike. Object-wise: only predicted
    connected regions that touch the kind's truth count (false blobs elsewhere are left to the
    cluster precision and the radio-galaxy false-positive rate).
    """
    return pooled_iou(
        iou_counts(np.nan_to_num(prob, nan=0.0) > threshold, read_diffuse_truth(sim, name))
        for name, prob in probs.items()
    )


def cluster_ratios(probs: dict[str, np.ndarray], sim: Path, config: SegmentConfig | None = None) -> pd.DataFrame:
    """Per cluster R within R500 of its centre; with ``config.region_reach`` also the mask regions (p > its threshold)
    touching that aperture, out to region_reach x R500 (:func:`radioexplore.segmentation.clusters.region_ratio`)."""
    clusters = pd.read_csv(SimulationDir(sim).clusters)
    reach = None if config is None else config.region_reach
    clusters["R"] = [
        detection_ratio(probs[c["field"]], c["x"], c["y"], c["r500_px"])[0]
        if reach is None
        else region_ratio(probs[c["field"]], c["x"], c["y"], c["r500_px"], float(config.threshold), reach)[0]
        for _, c in clusters.iterrows()
    ]
    return clusters


def galaxy_fp_rate(probs: dict[str, np.ndarray], sim: Path, threshold: float) -> tuple[float, int]:
    truth = pd.read_csv(SimulationDir(sim).truth, keep_default_na=True)
    gal = truth[truth["kind"].isin(GALAXIES) & truth["in_image"].astype(bool)]
    flagged, counted = 0, 0
    for name, group in gal.groupby("field"):
        prob = np.nan_to_num(probs[name], nan=0.0)
        near_diffuse = binary_dilation(read_diffuse_truth(sim, name) > 0, iterations=10)
        peak = maximum_filter(prob, size=5)
        ny, nx = prob.shape
        for _, g in group.iterrows():
            text = g["points"] if isinstance(g["points"], str) and g["points"] else f"{g['x']}:{g['y']}"
            pts = np.array([[float(v) for v in p.split(":")] for p in text.split(";")])
            px = np.clip(np.round(pts[:, 0]).astype(int), 0, nx - 1)
            py = np.clip(np.round(pts[:, 1]).astype(int), 0, ny - 1)
            if near_diffuse[py, px].any():
                continue
            counted += 1
            flagged += bool((peak[py, px] > threshold).any())
    return (flagged / counted if counted else float("nan")), counted


def best_r_threshold(clusters: pd.DataFrame) -> float:
    """The R threshold that maximises accuracy on a calibration survey (midpoints between sorted R values)."""
    r = np.sort(clusters["R"].dropna().to_numpy())
    candidates = np.concatenate([[0.0], (r[1:] + r[:-1]) / 2, [r[-1] + 1e-6]]) if r.size else np.array([0.015])
    acc = [detection_metrics(clusters["R"], clusters["diffuse"], t)["accuracy"] for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def simulate(seed: int, args: argparse.Namespace, work: Path) -> Path:
    sim = work / f"sim_{seed}"
    if not SimulationDir(sim).clusters.is_file():
        simulate_survey(
            sim, SimulationConfig(fields=args.fields, size_px=args.size, seed=seed, naxis=2), progress=False
        )
    return sim


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--checkpoint", action="append", type=Path, help="segment-train checkpoint(s); default: the shipped one"
    )
    p.add_argument("--seeds", default="201,202", help="held-out survey seeds (never trained on)")
    p.add_argument(
        "--calib-seeds",
        "--calib-seed",
        default="300",
        help="comma-separated calibration survey seeds (never trained or tested on), pooled: the best R threshold "
        "and, with --calib-threshold, the pixel threshold are chosen on them (default 300)",
    )
    p.add_argument(
        "--calib-grid",
        type=lambda v: tuple(float(t) for t in v.split(",")),
        default=THRESHOLD_GRID,
        help="comma-separated candidate pixel thresholds for --calib-threshold (default 0.30-0.95 by 0.05)",
    )
    p.add_argument(
        "--calib-core-grid",
        type=lambda v: tuple(float(t) for t in v.split(",")),
        help="with --calib-threshold: calibrate the hysteresis pair instead, each of these core thresholds with "
        "every --calib-grid threshold below it, and each alone as a plain threshold (mask_rule)",
    )
    p.add_argument("--fields", type=int, default=24)
    p.add_argument("--size", type=int, default=512)
    defaults = SegmentConfig()
    p.add_argument(
        "--threshold",
        type=float,
        default=defaults.threshold,
        help="pixel probability threshold (default: the checkpoint's calibrated one, else 0.5)",
    )
    p.add_argument(
        "--core-threshold",
        type=lambda v: None if v.lower() == "none" else float(v),
        default=defaults.core_threshold,
        help="hysteresis: keep a region above the threshold only with a pixel above this (default: the "
        "checkpoint's calibrated one when --threshold is not given, else none)",
    )
    p.add_argument(
        "--calib-threshold",
        action="store_true",
        help="choose the pixel threshold on the calibration surveys pooled (max. mean strict halo / relic IoU) instead",
    )
    p.add_argument(
        "--store-threshold",
        action="store_true",
        help="with --calib-threshold: write the threshold chosen on the calibration surveys into the checkpoint",
    )
    p.add_argument(
        "--tta", action=argparse.BooleanOptionalAction, default=defaults.tta, help="dihedral test-time augmentation"
    )
    p.add_argument(
        "--min-beams", type=float, default=defaults.min_beams, help="smallest region kept, beam areas (0: off)"
    )
    p.add_argument(
        "--max-compact",
        type=lambda v: None if v.lower() == "none" else float(v),
        default=defaults.max_compact_fraction,
        help="drop regions on emission with more than this flux fraction in 3 beam-sized peaks ('none': off)",
    )
    p.add_argument(
        "--max-negative",
        type=lambda v: None if v.lower() == "none" else float(v),
        default=defaults.max_negative_fraction,
        help="drop regions amid more than this share of pixels below -3 sigma (sidelobes; 'none': off)",
    )
    p.add_argument(
        "--spoke-sigma",
        type=lambda v: None if v.lower() == "none" else float(v),
        default=defaults.spoke_sigma,
        help="drop radial spokes of a bright source with a sector this many sigma below zero ('none': off)",
    )
    p.add_argument(
        "--attribute-sidelobes",
        action=argparse.BooleanOptionalAction,
        default=defaults.attribute_sidelobes,
        help="spare from the negative-share test the regions whose negatives a bright source's pattern explains",
    )
    p.add_argument(
        "--cut-pattern",
        action=argparse.BooleanOptionalAction,
        default=defaults.cut_pattern,
        help="remove the pixels a bright source's error pattern explains before the region tests (pattern_cut)",
    )
    p.add_argument(
        "--edge-sigma",
        type=lambda t: None if t.strip().lower() == "none" else float(t),
        default=defaults.edge_sigma,
        help="grow kept regions to the contour at this S/N on the image smoothed to the beam (edge_snap; 'none': off)",
    )
    p.add_argument(
        "--join-arcs",
        type=lambda t: None if t.strip().lower() == "none" else float(t),
        default=defaults.join_arcs,
        help="join pieces under --min-beams along one arc, gaps above this smoothed S/N, before the size test "
        "(arc_join; 'none': off)",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="segment with the mean probability of all --checkpoint networks (one row; a reference, not stored)",
    )
    p.add_argument("--r-threshold", type=float, default=0.015)
    p.add_argument(
        "--region-reach",
        type=lambda t: None if t.strip().lower() == "none" else float(t),
        default=defaults.region_reach,
        help="R also counts the mask regions touching the R500 aperture, out to this many R500 (region_ratio; "
        "default: SegmentConfig's, 1.5; 'none': R500 alone, as seed 004)",
    )
    p.add_argument("--workdir", type=Path, help="where the held-out skies are simulated (default: a temporary folder)")
    p.add_argument(
        "--cache",
        type=Path,
        help="keep the raw probability maps here per network and survey, and reuse them on later runs (default: none)",
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    header("diffuse-emission segmentation on held-out simulated skies (seed 004)")
    checkpoints = args.checkpoint or [diffuse_checkpoint()]
    seeds = [int(s) for s in args.seeds.split(",")]
    calib_seeds = [int(s) for s in str(args.calib_seeds).split(",")]
    if set(calib_seeds) & set(seeds):
        p.error(f"--calib-seeds {calib_seeds} and --seeds {seeds} overlap: never calibrate on a test survey")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="diffuse_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# held-out seeds {seeds}, calibration seeds {calib_seeds}; {args.fields} fields of {args.size} px each")
    base = SegmentConfig(
        threshold=args.threshold,
        core_threshold=args.core_threshold,
        tta=args.tta,
        min_beams=args.min_beams,
        max_compact_fraction=args.max_compact,
        max_negative_fraction=args.max_negative,
        spoke_sigma=args.spoke_sigma,
        attribute_sidelobes=args.attribute_sidelobes,
        cut_pattern=args.cut_pattern,
        edge_sigma=args.edge_sigma,
        join_arcs=args.join_arcs,
        region_reach=args.region_reach,
    )
    print(
        f"# tta={base.tta} core_threshold={base.core_threshold} min_beams={base.min_beams:g} max_compact_fraction={base.max_compact_fraction} "
        f"max_negative_fraction={base.max_negative_fraction} spoke_sigma={base.spoke_sigma} "
        f"attribute_sidelobes={base.attribute_sidelobes} cut_pattern={base.cut_pattern} edge_sigma={base.edge_sigma} "
        f"join_arcs={base.join_arcs} region_reach={base.region_reach}"
    )
    if args.ensemble and args.store_threshold:
        p.error("--store-threshold with --ensemble: an ensemble has no checkpoint to store its threshold in")
    for name, model, meta, ckpt in load_models(checkpoints, args.ensemble):
        recipe = meta["recipe"]
        print(
            f"\n## {name}: {meta['arch']}, trained on seed "
            f"{','.join(str(v) for v in (recipe['sim_seed'], *recipe.get('more_sim_seeds', ())))} skies "
            f"{'with' if recipe['radio_galaxies'] else 'WITHOUT'} radio galaxies, {recipe['steps']} steps"
        )
        start = time.time()
        calib_surveys = []
        for c in calib_seeds:
            calib_sim = simulate(c, args, work)
            calib_surveys.append((segment_survey(calib_sim, model, meta, args.fields, base, args.cache), calib_sim))
        config = resolved(base, meta)
        print(
            f"pixel threshold {config.threshold:g}, core threshold {config.core_threshold} "
            f"({'given' if base.threshold is not None else 'checkpoint'})"
        )
        if args.calib_threshold and args.calib_core_grid:
            (low, high), pair_scores = best_hysteresis(calib_surveys, base, args.calib_grid, args.calib_core_grid)
            config = replace(base, threshold=low, core_threshold=high)
            print(
                "pooled mean strict halo / relic IoU per (threshold, core): "
                + " ".join(f"{t:.2f}/{'-' if c is None else f'{c:.2f}'}:{v:.3f}" for (t, c), v in pair_scores.items())
            )
            print(
                f"(threshold, core threshold) maximising strict halo / relic IoU on calibration seeds {calib_seeds} "
                f"pooled: {low:.2f}, {high}"
            )
        elif args.calib_threshold:
            chosen, scores = best_pixel_threshold(calib_surveys, base, args.calib_grid)
            config = replace(base, threshold=chosen)
            print(
                "pooled mean strict halo / relic IoU per threshold: "
                + " ".join(f"{t:.2f}:{v:.3f}" for t, v in scores.items())
            )
            print(
                f"pixel threshold maximising strict halo / relic IoU on calibration seeds {calib_seeds} pooled: "
                f"{config.threshold:.2f}"
            )
        if args.calib_threshold and args.store_threshold:
            grid, cores = args.calib_grid, args.calib_core_grid
            note = dict(
                calibration_seeds=calib_seeds,
                fields=args.fields,
                size_px=args.size,
                criterion=f"max. mean strict halo / relic pixel IoU over the calibration surveys pooled, "
                f"{len(grid)} thresholds {min(grid):.2f}-{max(grid):.2f}"
                + (
                    f" under each of the cores {', '.join(f'{c:g}' for c in cores)} and each core alone"
                    if cores
                    else ""
                ),
                inference={k: v for k, v in asdict(base).items() if k not in ("threshold", "core_threshold")},
                command="python benchmarks/diffuse_segmentation.py " + " ".join(sys.argv[1:]),
            )
            if config.core_threshold is not None:
                note["core_threshold"] = float(config.core_threshold)
            store_calibration(ckpt, config.threshold, note)
            print(f"stored threshold {config.threshold:g}, core threshold {config.core_threshold} in {ckpt}")
        calib = pd.concat(
            [cluster_ratios(clean(raw, config), sim, config) for raw, sim in calib_surveys], ignore_index=True
        )
        r_best = best_r_threshold(calib)
        print(f"R threshold maximising accuracy on calibration seeds {calib_seeds} pooled: {r_best:.4f}")
        rows = []
        for seed in seeds:
            sim = simulate(seed, args, work)
            probs = clean(segment_survey(sim, model, meta, args.fields, base, args.cache), config)
            iou = pixel_iou(probs, sim, config.threshold)
            clusters = cluster_ratios(probs, sim, config)
            at_seed = detection_metrics(clusters["R"], clusters["diffuse"], args.r_threshold)
            at_best = detection_metrics(clusters["R"], clusters["diffuse"], r_best)
            auc = roc_auc_score(clusters["diffuse"], clusters["R"]) if clusters["diffuse"].nunique() == 2 else np.nan
            fp, n_gal = galaxy_fp_rate(probs, sim, config.threshold)
            row = dict(
                seed=seed,
                iou_halo=iou["halo"],
                iou_relic=iou["relic"],
                iou_halo_obj=iou["halo_obj"],
                iou_relic_obj=iou["relic_obj"],
                iou_filament=iou["filament"],
                iou_all=iou["all"],
                clusters=at_seed["n"],
                with_diffuse=at_seed["tp"] + at_seed["fn"],
                acc=at_seed["accuracy"],
                prec=at_seed["precision"],
                fn=at_seed["false_negative_rate"],
                acc_cal=at_best["accuracy"],
                prec_cal=at_best["precision"],
                fn_cal=at_best["false_negative_rate"],
                auc_R=auc,
                rg_fp=fp,
                galaxies=n_gal,
            )
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        table = pd.DataFrame(rows).drop(columns="seed")
        summary = ", ".join(f"{c} {table[c].mean():.3f} +- {table[c].std(ddof=1):.3f}" for c in table.columns)
        print(f"mean +- std over {len(seeds)} seeds: {summary}")
        print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
