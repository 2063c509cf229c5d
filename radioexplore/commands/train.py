"""The ``pretrain`` command: self-supervised training of a recipe on a run, in one process or several."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from radioexplore.commands.common import positive_int
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register pretrain."""
    p = sub.add_parser(
        "pretrain",
        help="self-supervised pre-training (DINO / SimCLR) on a run's tiles",
        description="Self-supervised pre-training on the tiles of a run; writes models/NAME/ in the run.",
        epilog=PRETRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_pretrain_arguments(p)
    p.set_defaults(func=cmd_pretrain)
