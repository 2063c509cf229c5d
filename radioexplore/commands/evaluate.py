"""The ``evaluate`` and ``attention`` commands: probes of a checkpoint beside a random network, attention figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radioexplore.assets import REALDATA_ENV, realdata_dir
from radioexplore.commands.common import positive_int
from radioexplore.commands.common import run_arg as _run_arg
from radioexplore.run.rundir import RunDir

#: What a bare ``evaluate --frdeep`` stands for: frdeep.npz in the folder named by $RADIOEXPLORE_REALDATA.
FRDEEP_FROM_ENV = f"${REALDATA_ENV}/frdeep.npz"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from radioexplore.evaluation.checks import EvaluateConfig
    from radioexplore.evaluation.frdeep import evaluate_frdeep
    from radioexplore.evaluation.survey import evaluate_run

    if args.table or args.methods:
        return _cmd_evaluate_table(args)
    if args.run is None and args.frdeep is None:
        print(
            "error: give --run DIR (a simulated survey or a labelled stamps run) and/or --frdeep NPZ", file=sys.stderr
        )
        return 2
    if args.frdeep is not None and str(args.frdeep) == FRDEEP_FROM_ENV:  # the bare flag
        if realdata_dir() is None:
            print(
                f"error: --frdeep: give the arrays' path (--frdeep PATH/frdeep.npz) or set {REALDATA_ENV}",
                file=sys.stderr,
            )
            return 2
        args.frdeep = realdata_dir() / "frdeep.npz"
    config = EvaluateConfig(
        checkpoint=str(args.checkpoint) if args.checkpoint else None,
        folds=args.folds,
        pca_dims=args.pca_dims,
        seed=args.seed,
        attention_tiles=args.attention_tiles,
        device=args.device,
        input_px=args.input_px,
        tta=args.tta,
        clip_sigma=args.clip_sigma,
    )
    passed = True
    if args.run is not None:
        report = evaluate_run(RunDir(args.run), config, progress=not args.quiet)
        print(report.text())
        passed = report.passed or not report.checks
    if args.frdeep is not None:
        if not Path(args.frdeep).is_file():
            print(f"error: {args.frdeep}: no such file (FR-DEEP arrays: README, 'Real data')", file=sys.stderr)
            return 2
        print(evaluate_frdeep(args.frdeep, config, progress=not args.quiet).text())
    return 0 if passed or not args.strict else 1


def _cmd_evaluate_table(args: argparse.Namespace) -> int:
    """``evaluate --table`` (and ``--methods``): the side-by-side table of a run's embedding sets."""
    from radioexplore.evaluation.bias import BiasConfig
    from radioexplore.evaluation.report import evaluate_table
    from radioexplore.evaluation.table import TableConfig
    from radioexplore.ssl.compare import MethodsConfig, pretrain_methods

    if args.run is None:
        print("error: --table and --methods need --run DIR (a run with labels or simulated truth)", file=sys.stderr)
        return 2
    run = RunDir(args.run)
    if not run.tile_pixels.exists():
        print(f"error: {run.tile_pixels} does not exist; ingest images into {run.root} first", file=sys.stderr)
        return 2
    embeddings: tuple[str, ...] = tuple(args.embeddings.split(",")) if args.embeddings else ()
    try:
        if args.methods:
            methods = MethodsConfig(
                methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
                epochs=args.epochs,
                seeds=tuple(int(s) for s in args.seeds.split(",")),
                device=args.device,
                threads=args.threads,
            )
            other = RunDir(args.pretrain_on) if args.pretrain_on else None
            if other is not None and not other.tile_pixels.exists():
                print(f"error: --pretrain-on {other.root}: no tiles.zarr; ingest images there first", file=sys.stderr)
                return 2
            pretrain_methods(run, methods, progress=not args.quiet, pretrain_run=other)
        config = TableConfig(
            target=args.target,
            folds=args.folds,
            pca_dims=args.pca_dims,
            seed=args.seed,
            embeddings=embeddings,
            device=args.device,
        )
        report = evaluate_table(run, config, BiasConfig(folds=args.folds, seed=args.seed), progress=not args.quiet)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.text())
    return 0


def cmd_attention(args: argparse.Namespace) -> int:
    from radioexplore.embed.attention import AttentionError, plot_tile_attention

    try:
        out = plot_tile_attention(
            RunDir(args.run),
            args.tile,
            args.out,
            checkpoint=str(args.checkpoint) if args.checkpoint else None,
            percentile=args.percentile,
        )
    except AttentionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register evaluate and attention."""
    p = sub.add_parser(
        "evaluate",
        help="probe a checkpoint against a random network: simulated survey (source count, extended, attention), "
        "labelled stamps (FR I / FR II)",
        description="Linear probes (PCA + one linear layer, seed 000) of a checkpoint beside the same architecture "
        "randomly initialised. Evaluate on a survey the checkpoint was NOT trained on (another simulation seed).",
    )
    p.add_argument("--run", type=Path, help="run directory: a simulated survey with truth, or stamps with labels")
    p.add_argument(
        "--frdeep",
        type=Path,
        nargs="?",
        const=FRDEEP_FROM_ENV,
        help=f"also probe FR I / FR II on the FR-DEEP FIRST and NVSS arrays (bare flag: {FRDEEP_FROM_ENV})",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="backbone checkpoint, or a shipped one by name (demo, real); default: every shipped checkpoint "
        "(the simulated-survey checks use demo)",
    )
    p.add_argument("--folds", type=positive_int, default=5, help="cross-validation folds (default 5)")
    p.add_argument(
        "--pca-dims", type=positive_int, default=100, help="PCA components before the linear layer (seed 000: 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and of the random network")
    p.add_argument(
        "--attention-tiles",
        type=positive_int,
        default=64,
        help="at most this many extended-source tiles for the attention test",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument(
        "--input-px",
        type=positive_int,
        help="side images are resized to before the networks (default: their own, at least the backbone's "
        "training input and at most 256, as embed does)",
    )
    p.add_argument(
        "--tta",
        choices=("none", "dihedral"),
        default="none",
        help="test-time augmentation of every network's embedding, as embed --tta (dihedral: 8x the time)",
    )
    p.add_argument(
        "--clip-sigma",
        type=float,
        help="every network sees each image's noise-clipped view, as embed --clip-sigma (default: off)",
    )
    p.add_argument("--strict", action="store_true", help="exit with status 1 when an acceptance check fails")
    t = p.add_argument_group(
        "side-by-side table (issue 21)",
        "--table probes every embedding set of --run beside random init of the same architecture, pixel PCA and "
        "the majority class (accuracy, balanced accuracy, Macro-F1, Weighted-F1, mean +- std over stratified "
        "folds and pre-training seeds), audits field / dqf / noise rms (instrumental bias), and writes "
        "RUN/evaluation/table.parquet and bias.parquet for the app's Probe tab. --methods first pre-trains each "
        "method with its demo recipe on the run's tiles (labels unused) and embeds it as METHOD_sSEED.",
    )
    t.add_argument("--table", action="store_true", help="print and write the side-by-side table of the run")
    t.add_argument("--target", help="tile-table column to classify (default: label, else truth_extended)")
    t.add_argument("--embeddings", help="comma-separated embedding sets (default: every one of the run)")
    t.add_argument(
        "--methods", help="pre-train these first, comma-separated from dino,simclr,byol,mae (implies --table)"
    )
    t.add_argument("--epochs", type=positive_int, default=2, help="epochs of each --methods pre-training (default 2)")
    t.add_argument("--seeds", default="0", help="pre-training seeds of --methods, comma-separated (default 0)")
    t.add_argument(
        "--pretrain-on",
        type=Path,
        metavar="DIR",
        help="run whose tiles --methods pre-train on (default: --run itself, its images but never its labels); "
        "give one without the evaluated images for a figure on unseen images",
    )
    t.add_argument("--threads", type=positive_int, help="torch CPU threads for --methods (default: the recipe's)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("attention", help="PNG of a ViT's last-block CLS attention on one tile (seed 000, fig. 7)")
    _run_arg(p)
    p.add_argument("--tile", type=int, required=True, help="tile id (row of tiles.parquet)")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="ViT checkpoint (default: the one the run was embedded with, else the shipped one)",
    )
    p.add_argument(
        "--percentile", type=float, default=90.0, help="contour the patches above this percentile (seed 000: 90)"
    )
    p.set_defaults(func=cmd_attention)
