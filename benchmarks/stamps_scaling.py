"""FR I / FR II probe error of stamps by scaling and by size: what the defaults of `ingest --stamps` cost.

Simulated FIRST-like objects (``radioexplore.simulation.cutouts``) are written twice: as raw 300 px
FITS cutouts (Jy/beam, noise, unrelated sources, NaN borders on some) and as the clean 150 px PNG
stamps a labelled collection ships (3-sigma clipped, FR-DEEP's preparation). Each stamp is read
once and taken through the steps of ``ingest_stamps`` (fit to the tile, per-stamp scaling, float16)
in memory for each variant, embedded with a shipped checkpoint (default ``real``) and probed with
a frozen PCA + logistic probe, stratified k-fold; the error is printed as mean +- std over the
folds of every simulation seed.

    python benchmarks/stamps_scaling.py                       # 60 per class, seeds 0,1
    python benchmarks/stamps_scaling.py --frdeep ../shared/realdata/frdeep.npz

``--frdeep NPZ`` adds FR-DEEP's FIRST stamps (150 px 8-bit PNGs, already clipped) at the default
and the older sizes. The shipped checkpoints saw FR-DEEP in pre-training, so that figure is
not evidence for a method; the output says so.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
import numpy as np

from radioexplore.embed.embedding import EmbedConfig, embed_tiles, embedding_px, load_model
from radioexplore.evaluation.probes import linear_probe
from radioexplore.ingest.scaling import make_scaler
from radioexplore.ingest.stamp_files import common_tile_px, find_stamps, read_stamp
from radioexplore.ingest.stamp_fit import fit_stamp
from radioexplore.ingest.stamp_labels import read_labels_csv
from radioexplore.ingest.stamps import FITS_STAMP_SCALING, PICTURE_STAMP_SCALING
from radioexplore.simulation.cutouts import write_fr_collection

SCALINGS = ("minmax", "sigmaclip", "asinh_noise")
#: size variants: name -> (tile_px, fit, embedded at); tile_px and fit None: the default (resample to the
#: collection's median side); embedded at "tile": its own size (at most 256), "model": the backbone's
#: training input (the default of a stamps run, ``run_embedding_px``)
SIZES = {
    "pad to 256, embedded at 256 (old default)": (256, "pad", "tile"),
    "resample to median side, embedded at it (<= 256)": (None, None, "tile"),
    "resample to median side, embedded at the training input 96 (default)": (None, None, "model"),
    "native 300, embedded at 256": (300, "pad", "tile"),
}
DEFAULT = "resample to median side, embedded at the training input 96 (default)"


def read_collection(folder: Path, labels: dict[str, str] | None, pattern: str | None) -> tuple[list, np.ndarray]:
    """Every stamp of ``folder`` (read once) and its label."""
    import re

    files = find_stamps(folder)
    stamps = [read_stamp(f) for f in files]
    if pattern:
        y = [re.search(pattern, f.relative_to(folder).as_posix()).group(1) for f in files]
    else:
        y = [labels[f.stem] for f in files]
    return stamps, np.asarray(y)


def tiles_of(stamps: list, tile_px: int | None, fit: str | None, scaling: str | None) -> np.ndarray:
    """The tiles ``ingest_stamps`` stores for these stamps and settings (the same steps, in memory)."""
    fit = fit or ("pad" if tile_px else "resample")
    tile_px = tile_px or common_tile_px([s.path for s in stamps])
    out = []
    for stamp in stamps:
        default = FITS_STAMP_SCALING if stamp.kind == "fits" else PICTURE_STAMP_SCALING
        scaler = make_scaler(scaling or default)
        tile, _, _ = fit_stamp(stamp.pixels, tile_px, fit)
        state = scaler.fit(stamp.pixels[np.isfinite(stamp.pixels)])
        out.append(scaler.apply(tile, state).astype(np.float16))
    return np.stack(out)


def probe_errors(stamps, y, tile_px, fit, scaling, at, model, args) -> list[float]:
    """Per-fold probe errors of one variant."""
    model, spec = model
    tiles = tiles_of(stamps, tile_px, fit, scaling)
    px = embedding_px(spec, tiles.shape[-1], spec.input_px if at == "model" else None)
    X = embed_tiles(model, spec, tiles, progress=False, device="cpu", input_px=px)
    return linear_probe(X, y, "classification", pca_dims=args.pca_dims, folds=args.folds, seed=0).per_fold["error"]


def line(name: str, errors: list[float]) -> str:
    e = 100 * np.asarray(errors)
    return f"| {name} | {e.mean():.1f}% +- {e.std():.1f} | {len(e)} |"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-per-class", type=int, default=60, help="simulated objects per class and seed (60)")
    p.add_argument("--seeds", default="0,1", help="simulation seeds, comma-separated (0,1)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--pca-dims", type=int, default=50)
    p.add_argument("--checkpoint", default="real", help="backbone: a shipped name or a file (real)")
    p.add_argument("--frdeep", type=Path, help="FR-DEEP npz (x_first, y_first, label_names) to add its FIRST stamps")
    p.add_argument("--work", type=Path, help="folder for the stamps and runs (default: a temporary one)")
    args = p.parse_args()
    _common.header("stamps_scaling: FR I / FR II probe error by stamp scaling and size")
    seeds = [int(s) for s in args.seeds.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="stamps_scaling_"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"# {args.n_per_class} FR I + {args.n_per_class} FR II per seed, seeds {seeds}; checkpoint {args.checkpoint}; "
        f"PCA {args.pca_dims} + logistic, {args.folds}-fold stratified; error mean +- std over folds x seeds"
    )
    t0 = time.time()
    model = load_model(EmbedConfig(checkpoint=args.checkpoint))[:2]
    collections = []
    for seed in seeds:
        paths = write_fr_collection(work / f"sim{seed}", args.n_per_class, seed)
        labels = read_labels_csv(paths["labels"])
        collections.append({k: read_collection(paths[k], labels, None) for k in ("raw", "clean")})
    rows: dict[str, list[float]] = {}

    def measure(name: str, kind: str, tile_px: int | None, fit: str | None, scaling: str | None, at: str) -> None:
        rows[name] = [e for c in collections for e in probe_errors(*c[kind], tile_px, fit, scaling, at, model, args)]
        print(line(name, rows[name]), flush=True)

    print("\n| stamps | error | folds |\n| --- | --- | --- |")
    clean_default = "clean 150 px PNG, minmax, native 150 embedded at 96 (default)"
    measure(clean_default, "clean", None, None, None, "model")
    measure("clean 150 px PNG, minmax, native 150 embedded at 144", "clean", None, None, None, "tile")
    measure("clean 150 px PNG, minmax, pad to 256 embedded at 256", "clean", 256, "pad", None, "tile")
    for size, (tile, fit, at) in SIZES.items():
        for scaling in SCALINGS if size == DEFAULT or tile == 256 else ("sigmaclip",):
            measure(f"raw 300 px FITS, {scaling}, {size}", "raw", tile, fit, scaling, at)
    clean = np.mean(rows[clean_default])
    default = np.mean(rows[f"raw 300 px FITS, sigmaclip, {DEFAULT}"])
    old = np.mean(rows["raw 300 px FITS, minmax, pad to 256, embedded at 256 (old default)"])
    print(
        f"\nraw cutouts at the defaults: {100 * default:.1f}% ({100 * (default - clean):+.1f} points from the clean "
        f"stamps at the defaults; the old defaults {100 * old:.1f}%, {100 * (old - clean):+.1f})"
    )
    if args.frdeep:
        frdeep(args, work, model)
    print(f"# {time.time() - t0:.0f} s")
    return 0


def frdeep(args, work: Path, model) -> None:
    """FR-DEEP's FIRST stamps as PNG files, at the default and the older sizes."""
    from PIL import Image

    data = np.load(args.frdeep)
    names = [str(n) for n in data["label_names"]]
    folder = work / "frdeep_first"
    for i, (x, y) in enumerate(zip(data["x_first"], data["y_first"], strict=True)):
        (folder / names[int(y)]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(x, np.uint8)).save(folder / names[int(y)] / f"{i:04d}.png")
    print(
        f"\nFR-DEEP FIRST ({len(data['y_first'])} stamps, 8-bit PNGs already clipped at 3 sigma): NOT EVIDENCE, "
        "the shipped checkpoints saw these images in pre-training\n\n| stamps | error | folds |\n| --- | --- | --- |"
    )
    stamps, y = read_collection(folder, None, "^(" + "|".join(names) + ")/")
    for name, tile, fit, scaling, at in (
        ("FR-DEEP FIRST, minmax, native 150 embedded at 96 (default)", None, None, None, "model"),
        ("FR-DEEP FIRST, minmax, native 150 embedded at 144", None, None, None, "tile"),
        ("FR-DEEP FIRST, minmax, pad to 256 embedded at 256 (old default)", 256, "pad", None, "tile"),
        ("FR-DEEP FIRST, sigmaclip, native 150 embedded at 96", None, None, "sigmaclip", "model"),
    ):
        print(line(name, probe_errors(stamps, y, tile, fit, scaling, at, model, args)), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
