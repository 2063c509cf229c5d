"""Embedding throughput of our backbones, in images/s and as a fraction of this machine's matmul peak.

Measures the peak itself (a large square matmul, best of three), counts the model's FLOPs with
torch's FlopCounterMode, then times batched forward passes: the bare model, and with
``--pipeline`` the whole embedding path of ``radioexplore embed`` (read float16 tiles of
``--tile-px`` from a zarr tile store, resize to the model's input, normalise, forward). Peak and
model are timed in interleaved rounds and the fraction is the median of the per-round ratios, so
other work on a shared machine moves both figures alike. Run by hand:

    .venv/bin/python benchmarks/embed_throughput.py --pipeline      # CPU, the demo model (ViT-tiny/8, 128 px)
    .venv/bin/python benchmarks/embed_throughput.py --arch vit_small --input-px 256 --batch 8 --pipeline
    python3 benchmarks/embed_throughput.py --device cuda --dtype bf16 --arch vit_small --input-px 256
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from _common import cpu_model, load
from torch.utils.flop_counter import FlopCounterMode

from radioexplore.embed.embedding import embed_tiles
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.run.tilestore import create_tile_store

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n x n matmul in ``dtype``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def model_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return float(counter.get_total_flops())


@torch.no_grad()
def seconds_per_batch(model: torch.nn.Module, x: torch.Tensor) -> float:
    sync(x.device)
    t0 = time.perf_counter()
    model(x)
    sync(x.device)
    return time.perf_counter() - t0


def interleaved(
    model: torch.nn.Module,
    spec: BackboneSpec,
    x: torch.Tensor,
    peak: Callable[[], float],
    rounds: int,
    tile_px: int | None,
) -> list[tuple[float, float, float | None]]:
    """``rounds`` of (matmul peak, bare-model images/s, embed-pipeline images/s), each round back to back.

    On a machine shared with other work the available FLOP/s change from minute to minute; a
    ratio of two figures measured seconds apart is steadier than one of figures minutes apart.
    The pipeline is radioexplore.embed.embedding.embed_tiles over a zarr store of ``tile_px`` float16
    tiles: read, convert, resize to the model's input, normalise, forward.
    """
    batch = x.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = None
        if tile_px:
            store = create_tile_store(os.path.join(tmp, "tiles.zarr"), batch, 1, tile_px)
            store[:] = (
                np.random.default_rng(0).random((batch, 1, tile_px, tile_px), dtype=np.float32).astype(np.float16)
            )
        seconds_per_batch(model, x)  # warm-up
        out = []
        for _ in range(rounds):
            before = peak()
            rate = batch / seconds_per_batch(model, x)
            piped = None
            if store is not None:
                t0 = time.perf_counter()
                embed_tiles(model, spec, store, batch, str(x.device), progress=False)
                piped = batch / (time.perf_counter() - t0)
            out.append((max(before, peak()), rate, piped))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="vit_tiny", help="backbone (vit_tiny, vit_small, resnet18, resnet50)")
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--input-px", type=int, default=128)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    p.add_argument("--rounds", type=int, default=5, help="rounds of peak, model and pipeline timings")
    p.add_argument("--peak-n", type=int, default=0, help="matmul size for the peak (default 2048 CPU, 8192 GPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model first")
    p.add_argument("--pipeline", action="store_true", help="also time the whole embed path from a zarr tile store")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--tile-px", type=int, default=256, help="tile size in the store for --pipeline (ingest's 256)")
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    peak_n = args.peak_n or (8192 if device.type == "cuda" else 2048)
    load_before = load()
    spec = BackboneSpec(arch=args.arch, patch=args.patch, input_px=args.input_px)
    model = build_backbone(spec).to(device=device, dtype=dtype).eval()
    x = torch.rand(args.batch, 1, args.input_px, args.input_px, device=device, dtype=dtype)
    flops = model_flops(model, x[:1])
    if args.compile:
        model = torch.compile(model)
    rounds = interleaved(
        model,
        spec,
        x,
        lambda: matmul_peak(device, dtype, peak_n, repeats=3),
        args.rounds,
        args.tile_px if args.pipeline else None,
    )
    peaks = np.array([r[0] for r in rounds])
    model_frac = np.array([r[1] * flops / r[0] for r in rounds])
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{cpu_model()} ({platform.machine()}), {torch.get_num_threads()} threads"
    )
    print(f"device            {where}; {load_before} at the start, {load()} at the end")
    print(f"torch             {torch.__version__}, dtype {args.dtype}; {args.rounds} rounds, median (range)")
    print(
        f"matmul peak       {np.median(peaks) / 1e9:,.1f} GFLOP/s ({peaks.min() / 1e9:,.1f}-{peaks.max() / 1e9:,.1f}; "
        f"{peak_n}^3, best of 3, before and after each round)"
    )
    print(f"model             {args.arch}/{args.patch} at {args.input_px} px, {flops / 1e9:.3f} GFLOP per image")
    rates = np.array([r[1] for r in rounds])
    print(
        f"bare model        {np.median(rates):,.2f} images/s (batch {args.batch}) = {100 * np.median(model_frac):.0f}% "
        f"of the matmul peak ({100 * model_frac.min():.0f}-{100 * model_frac.max():.0f}%)"
    )
    if args.pipeline:
        piped = np.array([r[2] for r in rounds])
        pipe_frac = np.array([r[2] * flops / r[0] for r in rounds])
        print(
            f"embed pipeline    {np.median(piped):,.2f} images/s from {args.tile_px} px float16 tiles in zarr "
            f"= {100 * np.median(pipe_frac):.0f}% of the matmul peak ({100 * pipe_frac.min():.0f}-{100 * pipe_frac.max():.0f}%)"
        )


if __name__ == "__main__":
    main()
