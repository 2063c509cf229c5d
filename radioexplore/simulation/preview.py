"""A labelled grid of example tiles, one row per kind, to see what the simulator makes.

Tiles are cut from a simulated survey around objects of each kind (with the field, position and
DQF in the label); where the survey holds too few of a kind, examples are rendered on their own
with the same beam, noise and background population and labelled "rendered". A last row shows
bright sources in fields of increasing DQF. Drawn with matplotlib's Agg canvas (no display).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from radioexplore.simulation.artefacts import dqf_artefacts
from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.instrument import convolve_beam
from radioexplore.simulation.kinds import KIND_PRIORS, KINDS
from radioexplore.simulation.morphology import MORPHOLOGIES, SURFACE_KINDS
from radioexplore.simulation.sky import add_points, counts_above, power_law_fluxes
from radioexplore.simulation.survey import SimulationConfig

Panel = tuple[np.ndarray, str, float]  # pixels (Jy/beam), label, noise rms for the display stretch


def render_example(
    config: SimulationConfig,
    kind: str,
    rng: np.random.Generator,
    tile_px: int = 256,
    dqf: int = 0,
    size_px: float | None = None,
) -> Panel:
    """One tile with an object of ``kind`` at its centre (or only compact sources for ``compact``).

    The tile has the survey's beam, central noise and compact population; ``dqf`` > 0 puts a
    bright source with that DQF's artefacts at the centre instead of an object.
    """
    noise = float(np.mean(config.noise_ujy)) * 1e-6
    if kind == "grg":  # giants do not fit a tile: render on a larger canvas and bin it down
        size_px = float(rng.uniform(*KIND_PRIORS[kind]["size"])) / config.pixel_arcsec
        factor = int(np.ceil(size_px / (0.8 * tile_px)))
        big, label, _ = render_example(config, "grg_canvas", rng, tile_px * factor, size_px=size_px)
        return _binned(
            big, factor, f"grg {size_px * config.pixel_arcsec / 60:.1f}' binned {factor}x{factor} (rendered)"
        )
    sky = np.zeros((tile_px, tile_px))
    area = (tile_px * config.pixel_arcsec / 3600.0) ** 2
    s_min = config.min_flux_sigma * noise
    n = rng.poisson(
        counts_above(config.compact_per_sq_deg, config.compact_ref_ujy * 1e-6, s_min, config.flux_slope) * area
    )
    flux = power_law_fluxes(rng, n, s_min, 5e-3, config.flux_slope)
    add_points(sky, rng.uniform(0, tile_px - 1, n), rng.uniform(0, tile_px - 1, n), flux)
    c = (tile_px - 1) / 2.0
    label = kind
    if kind == "grg_canvas":
        kind = "grg"
    if kind in MORPHOLOGIES:
        prior = KIND_PRIORS[kind]
        if size_px is None:
            size_px = min(float(rng.uniform(*prior["size"])) / config.pixel_arcsec, 0.9 * tile_px)
        lo, hi = prior["amplitude"]
        amp = (
            float(rng.uniform(lo, hi)) * noise
            if kind in SURFACE_KINDS
            else float(10 ** rng.uniform(np.log10(lo), np.log10(hi))) * 1e-3
        )
        centre = (c - 0.8 * size_px, c + 0.3 * size_px) if kind == "relic" else (c, c)
        MORPHOLOGIES[kind](sky, rng, c, c, size_px, amp, config.beam_px, centre=centre)
        label = f"{kind} {size_px * config.pixel_arcsec / 60:.1f}'"
    elif dqf > 0:
        peak = float(10 ** rng.uniform(np.log10(30e-3), np.log10(150e-3)))
        add_points(sky, [c], [c], [peak])
        label = f"DQF {dqf}, {peak * 1e3:.0f} mJy"
    bmaj, bmin = (b / config.pixel_arcsec for b in config.beam_arcsec)
    image = convolve_beam(sky, bmaj, bmin, 0.0, rng=rng, noise_rms=noise)
    if dqf > 0:
        image += dqf_artefacts(image.shape, rng, [(c, c, peak)], dqf, noise, config.beam_px)
    return image, label + " (rendered)", noise


def survey_examples(sim_dir: Path, kind: str, n: int, tile_px: int, rng: np.random.Generator) -> list[Panel]:
    """Up to ``n`` tiles cut from a simulated survey around objects of ``kind`` ('artefacts': bright
    sources in DQF >= 2 fields; 'compact': tiles whose centre holds no extended object)."""
    from radioexplore.io.fits import read_image

    sim = SimulationDir(sim_dir)
    truth = pd.read_csv(sim.truth)
    fields = pd.read_csv(sim.fields).set_index("field")
    truth = truth[truth["in_image"].astype(bool)]
    if kind == "artefacts":
        bad = fields.index[fields["dqf"] >= 2]
        pool = truth[truth["field"].isin(bad) & (truth["kind"] == "compact")]
        pool = pool.sort_values("flux", ascending=False).groupby("field").head(1)
    elif kind == "compact":
        ext = truth[truth["kind"] != "compact"]
        pool = truth[(truth["kind"] == "compact") & (truth["snr"] > 30)]
        far = [
            not ((ext["field"] == r.field) & (np.hypot(ext["x"] - r.x, ext["y"] - r.y) < tile_px)).any()
            for r in pool.itertuples()
        ]
        pool = pool[far]
    else:
        pool = truth[truth["kind"] == kind]
    if len(pool) > n:
        pool = pool.iloc[np.sort(rng.choice(len(pool), n, replace=False))]
    panels = []
    for r in pool.itertuples():
        image = read_image(sim.image(fields.loc[r.field, "file"]))
        factor = int(np.ceil(r.size / image.pixel_arcsec / (0.8 * tile_px))) if kind == "grg" else 1
        half = tile_px * factor // 2
        pixels = image.read_box(int(round(r.x)) - half, int(round(r.y)) - half, tile_px * factor)
        dqf = int(fields.loc[r.field, "dqf"])
        what = _flux_label(r.flux) if kind in ("compact", "artefacts") else f"{r.size / 60:.1f}'"
        label = f"{r.field} DQF {dqf} {what}"
        if factor > 1:
            panels.append(_binned(pixels, factor, f"{label} binned {factor}x{factor}"))
        else:
            panels.append((pixels, label, float(r.local_noise)))
    return panels


def preview_grid(
    path: str | Path,
    config: SimulationConfig,
    sim_dir: str | Path | None = None,
    per_row: int = 5,
    tile_px: int = 256,
) -> Path:
    """Save a PNG grid: one row per kind (:data:`KINDS` plus 'artefacts'), ``per_row`` example tiles each.

    Each tile is shown with an asinh stretch from -2 times its local noise to its 99.8th percentile, as radio
    images are usually displayed, so that faint diffuse emission and bright cores both show.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    rng = np.random.default_rng(config.seed)
    rows = [*KINDS, "artefacts"]
    fig = Figure(figsize=(2.2 * per_row + 0.8, 2.3 * len(rows)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), per_row, squeeze=False)
    for i, kind in enumerate(rows):
        panels = survey_examples(Path(sim_dir), kind, per_row, tile_px, rng) if sim_dir else []
        while len(panels) < per_row:
            dqf = 1 + len(panels) % 3 if kind == "artefacts" else 0
            panels.append(render_example(config, "artefacts" if dqf else kind, rng, tile_px, dqf=dqf))
        for j, (pixels, label, noise) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(_stretch(pixels, noise), origin="lower", cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=7)
            if j == 0:
                ax.set_ylabel(kind, fontsize=11, fontweight="bold")
    beam = f'beam {config.beam_arcsec[0]:.1f}"x{config.beam_arcsec[1]:.1f}", {config.pixel_arcsec}"/px'
    fig.suptitle(
        f"radioexplore simulate: example {tile_px} px tiles per kind ({beam}; asinh from -2 sigma)", fontsize=10
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path


def _flux_label(flux_jy: float) -> str:
    return f"{flux_jy * 1e3:.0f} mJy" if flux_jy >= 1e-3 else f"{flux_jy * 1e6:.0f} uJy"


def _binned(pixels: np.ndarray, factor: int, label: str) -> Panel:
    """Average ``factor`` x ``factor`` blocks; the display noise is then measured on the result."""
    from radioexplore.ingest.noise import mad_rms

    h, w = (d // factor * factor for d in pixels.shape)
    small = np.nanmean(pixels[:h, :w].reshape(h // factor, factor, w // factor, factor), axis=(1, 3))
    return small, label, mad_rms(small) or 1.0


def _stretch(pixels: np.ndarray, noise: float) -> np.ndarray:
    """Map Jy/beam to [0, 1]: asinh of the value in units of the noise, from -2 sigma to the 99.8th
    percentile (at least 30 sigma), NaN -> 0."""
    x = np.nan_to_num(pixels / noise, nan=-2.0)
    lo, hi = -2.0, max(30.0, float(np.percentile(x, 99.8)))
    a = 3.0  # linear below ~3 sigma, logarithmic above
    return (np.arcsinh((np.clip(x, lo, hi) - lo) / a) / np.arcsinh((hi - lo) / a)).astype(np.float32)
