"""Embedding throughput of our backbones, in images/s and as a fraction of this machine's matmul peak.

Measures the peak itself (a large square matmul, best of several), counts the model's FLOPs with
torch's FlopCounterMode, then times batched forward passes. Run by hand:

    .venv/bin/python benchmarks/embed_throughput.py                 # CPU, the demo model
    python3 benchmarks/embed_throughput.py --device cuda --dtype bf16 --arch vit_small --input-px 256
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from radioexplore.models import BackboneSpec, build_backbone

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
    while time.perf_counter() - t0 < seconds:
        model(x)
        n += x.shape[0]
    sync(x.device)
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
    args = p.parse_args()

    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    peak_n = args.peak_n or (8192 if device.type == "cuda" else 2048)
    peak = matmul_peak(device, dtype, peak_n)
    spec = BackboneSpec(arch=args.arch, patch=args.patch, input_px=args.input_px)
    model = build_backbone(spec).to(device=device, dtype=dtype).eval()
    x = torch.rand(args.batch, 1, args.input_px, args.input_px, device=device, dtype=dtype)
    flops = model_flops(model, x[:1])
    if args.compile:
        model = torch.compile(model)
    rate = throughput(model, x, args.seconds)
    achieved = rate * flops
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(f"device            {where}")
    print(f"torch             {torch.__version__}, dtype {args.dtype}")
    print(f"matmul peak       {peak / 1e9:,.1f} GFLOP/s ({peak_n}^3)")
    print(f"model             {args.arch}/{args.patch} at {args.input_px} px, {flops / 1e9:.3f} GFLOP per image")
    print(f"throughput        {rate:,.1f} images/s (batch {args.batch})")
    print(f"achieved          {achieved / 1e9:,.1f} GFLOP/s = {100 * achieved / peak:.0f}% of the matmul peak")


if __name__ == "__main__":
    main()
