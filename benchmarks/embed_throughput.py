"""Embedding throughput of our backbones, in images/s and as a fraction of this machine's matmul peak.

Measures the peak itself (a large square matmul, best of several, before and after the model is
timed: on a shared machine the best the machine gave is the fair reference), counts the model's
FLOPs with torch's FlopCounterMode, then times batched forward passes: the bare model, and with
``--pipeline`` the whole embedding path of ``radioexplore embed`` (read float16 tiles of
``--tile-px`` from a zarr tile store, resize to the model's input, normalise, forward). Run by hand:

    .venv/bin/python benchmarks/embed_throughput.py --pipeline      # CPU, the demo model (ViT-tiny/8, 128 px)
    .venv/bin/python benchmarks/embed_throughput.py --arch vit_small --input-px 256 --batch 8 --seconds 60
    python3 benchmarks/embed_throughput.py --device cuda --dtype bf16 --arch vit_small --input-px 256
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import torch
from _common import cpu_model, load
from torch.utils.flop_counter import FlopCounterMode

from radioexplore.embedding import embed_tiles
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.tilestore import create_tile_store

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
def throughput(model: torch.nn.Module, x: torch.Tensor, seconds: float) -> float:
    for _ in range(2):
        model(x)
    sync(x.device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2 * x.shape[0]:
        model(x)
        n += x.shape[0]
    sync(x.device)
    return n / (time.perf_counter() - t0)


def pipeline_throughput(model: torch.nn.Module, spec: BackboneSpec, tile_px: int, batch: int, device: str) -> float:
    """Images/s of radioexplore.embedding.embed_tiles over a zarr tile store of ``tile_px`` float16 tiles."""
    n = 3 * batch
    with tempfile.TemporaryDirectory() as tmp:
        store = create_tile_store(os.path.join(tmp, "tiles.zarr"), n, 1, tile_px)
        store[:] = np.random.default_rng(0).random((n, 1, tile_px, tile_px), dtype=np.float32).astype(np.float16)
        embed_tiles(model, spec, store, batch, device, progress=False, rows=(0, batch))  # warm-up
        t0 = time.perf_counter()
        embed_tiles(model, spec, store, batch, device, progress=False)
        return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="vit_tiny", help="backbone (vit_tiny, vit_small, resnet18, resnet50)")
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--input-px", type=int, default=128)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    p.add_argument("--seconds", type=float, default=10.0, help="timing window per measurement")
    p.add_argument("--peak-n", type=int, default=0, help="matmul size for the peak (default 2048 CPU, 8192 GPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model first")
    p.add_argument("--pipeline", action="store_true", help="also time the whole embed path from a zarr tile store")
    p.add_argument("--tile-px", type=int, default=256, help="tile size in the store for --pipeline (ingest's 256)")
    args = p.parse_args()

    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    peak_n = args.peak_n or (8192 if device.type == "cuda" else 2048)
    load_before = load()
    peak_before = matmul_peak(device, dtype, peak_n)
    spec = BackboneSpec(arch=args.arch, patch=args.patch, input_px=args.input_px)
    model = build_backbone(spec).to(device=device, dtype=dtype).eval()
    x = torch.rand(args.batch, 1, args.input_px, args.input_px, device=device, dtype=dtype)
    flops = model_flops(model, x[:1])
    if args.compile:
        model = torch.compile(model)
    rate = throughput(model, x, args.seconds)
    piped = pipeline_throughput(model, spec, args.tile_px, args.batch, args.device) if args.pipeline else None
    peak_after = matmul_peak(device, dtype, peak_n)
    peak = max(peak_before, peak_after)
    achieved = rate * flops
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{cpu_model()} ({platform.machine()}), {torch.get_num_threads()} threads"
    )
    print(f"device            {where}; {load_before} at the start, {load()} at the end")
    print(f"torch             {torch.__version__}, dtype {args.dtype}")
    print(
        f"matmul peak       {peak / 1e9:,.1f} GFLOP/s ({peak_n}^3; {peak_before / 1e9:,.1f} before, "
        f"{peak_after / 1e9:,.1f} after the model)"
    )
    print(f"model             {args.arch}/{args.patch} at {args.input_px} px, {flops / 1e9:.3f} GFLOP per image")
    print(f"throughput        {rate:,.1f} images/s (batch {args.batch}, bare model)")
    print(f"achieved          {achieved / 1e9:,.1f} GFLOP/s = {100 * achieved / peak:.0f}% of the matmul peak")
    if piped is not None:
        print(
            f"embed pipeline    {piped:,.1f} images/s from {args.tile_px} px float16 tiles in zarr "
            f"= {100 * piped * flops / peak:.0f}% of the matmul peak"
        )


if __name__ == "__main__":
    main()
