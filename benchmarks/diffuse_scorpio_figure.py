"""The README's picture of the diffuse-emission map on real fields: each field with p >= threshold shaded.

    radioexplore segment --run RUN
    python benchmarks/diffuse_scorpio_figure.py --run RUN --out docs/images/diffuse_scorpio.png

Drawn with matplotlib from the run's ``segments/<field>.fits`` and the ingested images, a
picture that needs no browser (``diffuse_overlay_shot.py`` screenshots the app's overlay itself).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402
from PIL import Image  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", type=Path, required=True, help="run directory with segments/ (radioexplore segment)")
    p.add_argument("--out", type=Path, required=True, help="PNG to write (palette PNG, about 130 KB)")
    p.add_argument("--threshold", type=float, default=0.5)
    args = p.parse_args()
    files = tomllib.loads((args.run / "run.toml").read_text())
    paths = [Path(f) for f in files["stages"]["ingest"]["files"]]
    fig, axes = plt.subplots(1, len(paths), figsize=(3.5 * len(paths), 3.9), squeeze=False)
    for ax, path in zip(axes[0], paths, strict=True):
        img = np.squeeze(fits.getdata(path)).astype(float)
        prob = np.nan_to_num(np.squeeze(fits.getdata(args.run / "segments" / f"{path.stem}.fits")).astype(float))
        lo, hi = np.nanpercentile(img, [1, 99.7])
        ax.imshow(np.arcsinh((img - lo) / (hi - lo) * 10), origin="lower", cmap="gray")
        flagged = prob >= args.threshold
        ax.imshow(np.ma.masked_where(~flagged, prob), origin="lower", cmap="autumn", alpha=0.35, vmin=0, vmax=1)
        ax.contour(prob, levels=[args.threshold], colors="orange", linewidths=0.6, origin="lower")
        frac = flagged[np.isfinite(img)].mean()
        print(f"{path.stem}: {100 * frac:.1f}% flagged (p >= {args.threshold:g})")
        ax.set_title(f"{path.stem}\nflagged {100 * frac:.1f}% (p >= {args.threshold:g})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=72, bbox_inches="tight")
    Image.open(args.out).convert("RGB").quantize(256).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
