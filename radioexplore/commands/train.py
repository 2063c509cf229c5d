"""Model commands: pretrain (self-supervised training), evaluate (probes and attention), attention (a figure)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from radioexplore.assets import REALDATA_ENV, realdata_dir
from radioexplore.commands.common import positive_int
from radioexplore.commands.common import run_arg as _run_arg
from radioexplore.run.rundir import RunDir

PRETRAIN_EPILOG = """\
Distributed: torchrun --nproc_per_node N pipelines/pretrain.py --run-dir DIR --recipe NAME
runs N processes with DistributedDataParallel (gloo on CPU, NCCL on GPUs). Under torchrun spell
the run directory --run-dir (or --run=DIR fails too): torchrun's own parser reads --run as an
abbreviation of its --run-path and stops. Without torchrun, --nproc N starts N local processes.
The per-process batch stays optim.batch_size, so the global batch and (by DINO's linear scaling
rule) the learning rate grow with N. A killed run continues from models/NAME/checkpoint.pt when
started again with the same command and the same number of processes.

Know-how (Caron et al. 2021; seed 000): if the loss does not decrease, lower
dino.teacher_temp or raise dino.freeze_last_layer; if it is unstable, lower optim.lr or
optim.clip_grad, or warm up the teacher temperature longer. With small batches raise
dino.momentum_teacher (0.9995 at batch 256 in DINO's advice).
"""

#: What a bare ``evaluate --frdeep`` stands for: frdeep.npz in the folder named by $RADIOEXPLORE_REALDATA.
FRDEEP_FROM_ENV = f"${REALDATA_ENV}/frdeep.npz"


def add_pretrain_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``radioexplore pretrain`` and ``pipelines/pretrain.py``."""
    p.add_argument("--run", "--run-dir", dest="run", required=True, type=Path, help="run directory with tiles.zarr")
    p.add_argument(
        "--recipe",
        required=True,
        help="recipe name in pipelines/recipes (mgcls_dino_vits8, mgcls_dino_resnet50, emu_simclr_resnet18, "
        "demo_cpu, ...) or a path to a recipe TOML file",
    )
    p.add_argument("--name", help="model name inside the run, models/NAME/ (default: the recipe's name)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a recipe value, TOML syntax, repeatable: --set optim.epochs=2 --set optim.lr=1e-4 "
        "--set backbone.arch='\"vit_tiny\"'",
    )
    p.add_argument("--device", help="auto, cpu or cuda (default: the recipe's, normally auto)")
    p.add_argument(
        "--threads",
        type=positive_int,
        help="torch CPU threads per process (default: the recipe's); on a busy CPU 1 thread per process "
        "is often faster than several, and torchrun --nproc_per_node 2 uses two cores without thread contention",
    )
    p.add_argument(
        "--max-steps",
        type=positive_int,
        help="stop (with a checkpoint) after this many global steps; run again to continue",
    )
    p.add_argument(
        "--also-run",
        dest="also_runs",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="another run whose tiles join the training set, repeatable (e.g. real images: a SCORPIO run, an "
        "FR-DEEP stamps run); labels are never used, the monitor probes only --run",
    )
    p.add_argument("--restart", action="store_true", help="discard an existing checkpoint and train from scratch")
    p.add_argument("--export", type=Path, help="also copy the final backbone checkpoint to this path")
    p.add_argument(
        "--nproc",
        type=positive_int,
        default=1,
        help="start this many local processes (DistributedDataParallel, gloo on CPU, one GPU each on CUDA), "
        "each with one CPU thread unless --threads says otherwise; the torchrun-free way to use several cores",
    )


def pretrain_main(argv: list[str] | None = None) -> int:
    """Entry point of ``pipelines/pretrain.py`` (one process of a torchrun job, or a single process)."""
    p = argparse.ArgumentParser(
        prog="pretrain",
        description="Self-supervised pre-training (DINO or SimCLR) on the tiles of a run directory.",
        epilog=PRETRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pretrain_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return cmd_pretrain(args)


def cmd_pretrain(args: argparse.Namespace) -> int:
    import os

    import torch.distributed as dist

    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _spawn_pretrain(args)

    from radioexplore.ssl.recipe import RecipeError, recipe_with_overrides
    from radioexplore.ssl.train import pretrain

    try:
        recipe = recipe_with_overrides(args.recipe, args.overrides, args.device, args.threads, args.also_runs)
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run = RunDir(args.run)
    if not run.tile_pixels.exists():
        print(f"error: {run.tile_pixels} does not exist; ingest images into {run.root} first", file=sys.stderr)
        return 2
    try:
        result = pretrain(
            run,
            recipe,
            name=args.name,
            max_steps=args.max_steps,
            resume=not args.restart,
            progress=not args.quiet,
            export=args.export,
        )
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if result.finished and result.backbone is not None:
        print(f"wrote {result.backbone} after {result.step} steps ({result.epoch} epochs)")
        if args.export:
            print(f"copied to {args.export}")
    elif not result.finished:
        print(f"stopped at step {result.step} (epoch {result.epoch}); run the same command again to continue")
    return 0


def _spawn_pretrain(args: argparse.Namespace) -> int:
    """Run ``args`` in ``args.nproc`` local processes, as torchrun would (same environment variables)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if args.threads is None:
        args.threads = 1  # as torchrun sets OMP_NUM_THREADS=1: N processes share the cores without oversubscription
    mp.spawn(_pretrain_process, args=(args.nproc, port, args), nprocs=args.nproc, join=True)
    return 0


def _pretrain_process(rank: int, world: int, port: int, args: argparse.Namespace) -> None:
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world)
    )
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    cmd_pretrain(args)


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
    """Register pretrain, evaluate and attention."""
    p = sub.add_parser(
        "pretrain",
        help="self-supervised pre-training (DINO / SimCLR) on a run's tiles",
        description="Self-supervised pre-training on the tiles of a run; writes models/NAME/ in the run.",
        epilog=PRETRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pretrain_arguments(p)
    p.set_defaults(func=cmd_pretrain)

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
