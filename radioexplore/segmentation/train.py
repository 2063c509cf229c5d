"""``radioexplore segment-train``: the Radio U-Net (seed 004) trained on simulated skies with reference masks.

The recipe follows seed 004 where a CPU allows: 192 px tiles of simulated observations whose
reference mask is the diffuse emission (here halos, relics and filaments above 2 sigma after the
beam, :func:`radioexplore.simulation.diffuse.diffuse_truth`); binary cross-entropy plus Dice loss.
Scaled down for a CPU: seed 004 cut 100 000 tiles from 1000 images of 2000 px; the default here
draws random 128 px crops (half centred on diffuse emission, flipped and rotated) from 32 fields of
512 px, for a few hundred steps of a U-Net with 8 base channels (``unet_small``), and segments
with 192 px tiles (the network is fully convolutional); ``--arch unet`` (16 channels),
``--crop 192`` and more steps on a GPU are the same code. Unlike seed 004's skies, ours hold radio
galaxies, bent tails, peculiar objects and imaging artefacts as negatives (its false positives were
radio galaxies its simulations lacked); ``radio_galaxies = False`` trains without them, for the
comparison the benchmark makes. ``more_sim_seeds`` adds skies of the same settings (one folder each);
``region_loss`` swaps Dice for the soft IoU or the Lovasz hinge (Berman, Rannen Triki & Blaschko 2018),
surrogates of the IoU the benchmark measures, or for a strict soft Dice per kind of diffuse emission averaged over
the kinds (``dice_kind``, :mod:`radioexplore.segmentation.kind_dice`: each kind counts once, as in the benchmark). ``taper_beams`` > 1 gives the network a second input channel,
the field smoothed to that many beam FWHM over its own noise from below (:func:`radioexplore.segmentation.scaling.taper_channel`:
halos and relics are looked for on tapered images, Botteon et al. 2022). Several processes (``torchrun``) train with DDP, set up as
the SSL jobs are (:func:`radioexplore.ssl.processes.setup_processes`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from radioexplore.io.fits import read_image
from radioexplore.models import build_segmenter
from radioexplore.run.atomic import atomic_path
from radioexplore.segmentation.kind_dice import kind_dice_loss
from radioexplore.segmentation.scaling import beam_fwhm_px, field_input, noise_window, scale_input, taper_channel
from radioexplore.segmentation.tiling import MARGIN_PX, TILE_PX
from radioexplore.simulation.diffuse import read_diffuse_truth
from radioexplore.simulation.folder import SimulationDir
from radioexplore.simulation.survey import SimulationConfig, simulate_survey
from radioexplore.ssl.processes import Processes, all_mean, setup_processes, sync_buffers

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "radioexplore-segment/1"
#: Pixel threshold of a checkpoint that carries no calibrated one.
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class SegmentRecipe:
    """How the U-Net is trained and on what skies; stored in the checkpoint."""

    arch: str = "unet_small"
    tile_px: int = TILE_PX  # seed 004: 192 px tiles, the inference tile
    margin_px: int = MARGIN_PX  # overlap cropped on each side at inference
    crop_px: int = 128  # training crop (scaled down from 192 for a CPU: 2.25x fewer pixels per step)
    steps: int = 500
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    positive_fraction: float = 0.5  # crops centred on a diffuse pixel; the rest anywhere in the field
    negative_fraction: float = 0.0  # crops centred on a hard negative (radio galaxy, bright source: hard_negatives)
    dice_weight: float = 1.0  # loss = BCE + dice_weight * (the region term)
    region_loss: str = "dice"  # region term: "dice" (1 - soft Dice), "jaccard" (soft IoU), "lovasz", "dice_kind"
    noise_background_px: int = 0  # input noise grid: background mesh subtracted first (scaling.noise_grid); 0 none
    noise_from_below: bool = False  # input noise capped by the field's noise envelope from below (scaling)
    ripple_model: bool = False  # bright sources' calibration-ripple model subtracted from the input (scaling)
    ripple_spoke_deg: float = 0.0  # ... with its radial spokes in sectors of this many degrees (0: rings only)
    taper_beams: float = 0.0  # > 1: a second input channel, the field smoothed to this many beam FWHM (scaling)
    seed: int = 0
    # the training skies (radioexplore.simulation), richer in clusters than a default survey
    fields: int = 32
    size_px: int = 512
    sim_seed: int = 100
    more_sim_seeds: tuple[int, ...] = ()  # further skies of the same settings, one folder each (--sim-dir ...)
    halo_probability: float = 0.8
    relic_probability: float = 0.7
    filaments_per_sq_deg: float = 20.0
    radio_galaxies: bool = True

    @property
    def in_chans(self) -> int:
        """Input channels of the network: the image, and the tapered image when ``taper_beams`` is on."""
        return 2 if self.taper_beams > 0 else 1

    @property
    def sim_seeds(self) -> tuple[int, ...]:
        """Seeds of every training sky: ``sim_seed`` first, then ``more_sim_seeds``."""
        return (self.sim_seed, *self.more_sim_seeds)

    def sky_config(self, seed: int | None = None) -> SimulationConfig:
        """The simulated survey the network learns from (``seed``: one of :attr:`sim_seeds`; default the first)."""
        base = SimulationConfig(
            fields=self.fields,
            size_px=self.size_px,
            seed=self.sim_seed if seed is None else seed,
            naxis=2,
            halo_probability=self.halo_probability,
            relic_probability=self.relic_probability,
            filaments_per_sq_deg=self.filaments_per_sq_deg,
        )
        if not self.radio_galaxies:
            base = replace(base, galaxies_per_sq_deg=0.0, peculiar_per_sq_deg=(0.0, 0.0, 0.0))
        return base


def ensure_skies(sim_dir: Path, recipe: SegmentRecipe, progress: bool = True, seed: int | None = None) -> Path:
    """Simulate the recipe's skies of ``seed`` (default its first) into ``sim_dir`` unless they are there already
    (same configuration)."""
    config = recipe.sky_config(seed)
    stamp = SimulationDir(sim_dir).config
    if stamp.is_file():
        have = json.loads(stamp.read_text())
        differs = {k: (have.get(k), v) for k, v in asdict(config).items() if json.loads(json.dumps(v)) != have.get(k)}
        if differs:
            raise ValueError(
                f"{sim_dir} holds skies simulated with other settings ({differs}); give another --sim-dir or delete it"
            )
        if SimulationDir(sim_dir).diffuse_dir.is_dir():
            return sim_dir
    simulate_survey(sim_dir, config, progress=progress)
    return sim_dir


def load_skies(
    sim_dir: Path,
    noise_background_px: int = 0,
    from_below: bool = False,
    ripples: bool = False,
    spoke_deg: float = 0.0,
    taper_beams: float = 0.0,
    kinds: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(network input, 0/1 diffuse mask) per field of a simulated survey (pixels and noise grid as in
    :func:`radioexplore.segmentation.scaling.field_input`); the input is (2, H, W) with ``taper_beams`` > 0
    (:func:`radioexplore.segmentation.scaling.taper_channel` of the same pixels second), else (H, W). With
    ``kinds`` the mask holds the truth's kind codes (0 none, i + 1 for ``DIFFUSE_KINDS[i]``), not 0/1."""
    sim = SimulationDir(sim_dir)
    fields = json.loads(sim.config.read_text())["fields"]
    out = []
    for i in range(int(fields)):
        name = f"field_{i:03d}"
        image = read_image(sim.image(f"{name}.fits"))
        pixels, grid = field_input(
            image.read(), noise_background_px, from_below, ripples, beam_fwhm_px(image), spoke_deg
        )
        x = scale_input(pixels, noise_window(grid, 0, 0, image.nx, image.ny))
        if taper_beams > 0:
            x = np.stack([x, taper_channel(pixels, taper_beams, beam_fwhm_px(image))])
        labels = read_diffuse_truth(sim_dir, name)
        out.append((x, (labels if kinds else labels > 0).astype(np.float32)))
    return out


#: Kinds whose key points (core, hotspots, lobes, tails) are hard negatives: seed 004's false positives.
HARD_NEGATIVE_KINDS = ("fr1", "fr2", "bent", "xrg", "grg", "orc")
#: Compact sources at least this many times the local noise are hard negatives too (their sidelobes).
BRIGHT_SNR = 100.0


def hard_negatives(sim_dir: Path, fields: int) -> list[np.ndarray]:
    """Per field, (y, x) pixels of the hard negatives: key points of radio galaxies and odd radio circles,
    and compact sources brighter than :data:`BRIGHT_SNR` sigma (whose sidelobes and artefacts surround them)."""
    truth = pd.read_csv(SimulationDir(sim_dir).truth)
    out = []
    for i in range(fields):
        rows = truth[(truth["field"] == f"field_{i:03d}") & truth["in_image"].astype(bool)]
        pts: list[tuple[float, float]] = []
        for _, r in rows.iterrows():
            if r["kind"] in HARD_NEGATIVE_KINDS:
                text = r["points"] if isinstance(r["points"], str) and r["points"] else f"{r['x']}:{r['y']}"
                pts.extend((float(p.split(":")[1]), float(p.split(":")[0])) for p in text.split(";"))
            elif r["kind"] == "compact" and float(r["snr"]) >= BRIGHT_SNR:
                pts.append((float(r["y"]), float(r["x"])))
        out.append(np.round(np.array(pts, dtype=float).reshape(-1, 2)).astype(np.int64))
    return out


class CropSampler:
    """Random ``tile`` px crops (a fraction centred on diffuse pixels, a fraction on hard negatives),
    randomly flipped and rotated."""

    def __init__(
        self,
        skies: list[tuple[np.ndarray, np.ndarray]],
        tile: int,
        positive_fraction: float,
        rng,
        negatives: list[np.ndarray] | None = None,
        negative_fraction: float = 0.0,
    ) -> None:
        self.skies, self.tile, self.frac, self.rng = skies, tile, positive_fraction, rng
        self.positives = [np.flatnonzero(m.ravel()) for _, m in skies]
        self.negatives = negatives or [np.zeros((0, 2), np.int64) for _ in skies]
        self.neg_frac = negative_fraction if any(len(n) for n in self.negatives) else 0.0
        small = [x.shape[-2:] for x, _ in skies if min(x.shape[-2:]) < tile]
        if small:
            raise ValueError(f"training fields {small[0]} are smaller than the {tile} px tile; simulate larger fields")

    def crop(self) -> tuple[np.ndarray, np.ndarray]:
        rng, t = self.rng, self.tile
        with_pos = [i for i, p in enumerate(self.positives) if p.size]
        draw = rng.random()
        if with_pos and draw < self.frac:
            i = int(rng.choice(with_pos))
            cy, cx = divmod(int(rng.choice(self.positives[i])), self.skies[i][0].shape[-1])
            cy += int(rng.integers(-t // 3, t // 3 + 1))
            cx += int(rng.integers(-t // 3, t // 3 + 1))
        elif draw < self.frac + self.neg_frac:
            i = int(rng.choice([j for j, n in enumerate(self.negatives) if len(n)]))
            cy, cx = (int(v) for v in self.negatives[i][int(rng.integers(len(self.negatives[i])))])
            cy += int(rng.integers(-t // 3, t // 3 + 1))
            cx += int(rng.integers(-t // 3, t // 3 + 1))
        else:
            i = int(rng.integers(len(self.skies)))
            ny, nx = self.skies[i][0].shape[-2:]
            cy, cx = int(rng.integers(ny)), int(rng.integers(nx))
        x, m = self.skies[i]
        y0 = int(np.clip(cy - t // 2, 0, x.shape[-2] - t))
        x0 = int(np.clip(cx - t // 2, 0, x.shape[-1] - t))
        a, b = x[..., y0 : y0 + t, x0 : x0 + t], m[y0 : y0 + t, x0 : x0 + t]
        k = int(rng.integers(4))
        a, b = np.rot90(a, k, axes=(-2, -1)), np.rot90(b, k)
        if rng.random() < 0.5:
            a, b = a[..., ::-1], b[:, ::-1]
        return np.ascontiguousarray(a), np.ascontiguousarray(b)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self.crop() for _ in range(n)]
        x = np.stack([p[0] for p in pairs])
        return (
            torch.from_numpy(x[:, None] if x.ndim == 3 else x),
            torch.from_numpy(np.stack([p[1] for p in pairs])[:, None]),
        )


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy plus ``dice_weight`` x (1 - soft Dice over the batch)."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = (2 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + dice_weight * (1 - dice)


def soft_jaccard_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU over the whole batch (probabilities in place of the 0/1 mask): the benchmark's IoU,
    which pools the pixels of a whole survey, made differentiable."""
    p = torch.sigmoid(logits)
    inter = (p * target).sum()
    return 1 - (inter + 1.0) / (p.sum() + target.sum() - inter + 1.0)


def lovasz_hinge_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Lovasz hinge (Berman, Rannen Triki & Blaschko 2018, CVPR, "The Lovasz-Softmax loss"): the tight convex
    surrogate of 1 - IoU of the positive class, over all pixels of the batch at once (the benchmark's IoU pools
    a survey's pixels, not per image); 0 when every pixel is on its side of the logit margin 1."""
    signs = 2 * target.reshape(-1) - 1
    errors = 1 - logits.reshape(-1) * signs
    errors, order = torch.sort(errors, descending=True)
    gt = target.reshape(-1)[order]
    gts = gt.sum()
    inter = gts - gt.cumsum(0)
    union = gts + (1 - gt).cumsum(0)
    jaccard = 1 - inter / union
    grad = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])  # the Lovasz extension's weights
    return torch.dot(F.relu(errors), grad)


REGION_LOSSES = ("dice", "jaccard", "lovasz", "dice_kind")


def segment_loss(logits: torch.Tensor, target: torch.Tensor, weight: float = 1.0, region: str = "dice") -> torch.Tensor:
    """Binary cross-entropy plus ``weight`` x a region term: soft Dice (seed 004), soft IoU, the Lovasz hinge or
    the strict soft Dice per kind (``dice_kind``: ``target`` holds kind codes, :func:`kind_dice_loss`); every
    term but the last reads the target as 0/1 (any code > 0 diffuse)."""
    labels = target
    target = (target > 0).to(logits.dtype)
    if region == "dice":
        return bce_dice_loss(logits, target, weight)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    if region == "dice_kind":
        return bce + weight * kind_dice_loss(logits, labels)
    if region == "jaccard":
        return bce + weight * soft_jaccard_loss(logits, target)
    if region == "lovasz":
        return bce + weight * lovasz_hinge_loss(logits, target)
    raise ValueError(f"region loss {region!r} is not one of {REGION_LOSSES}")


def train_steps(
    model: nn.Module,
    sampler: CropSampler,
    recipe: SegmentRecipe,
    procs: Processes,
    progress_every: int = 50,
) -> list[float]:
    """Run ``recipe.steps`` optimiser steps; returns the loss per step (averaged over processes)."""
    net = (
        DistributedDataParallel(model, device_ids=[procs.device] if procs.device.type == "cuda" else None)
        if procs.distributed
        else model
    )
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=max(recipe.steps, 1), pct_start=0.1)
    losses = []
    net.train()
    start = time.time()
    for step in range(recipe.steps):
        x, y = sampler.batch(recipe.batch_size)
        loss = segment_loss(net(x.to(procs.device)), y.to(procs.device), recipe.dice_weight, recipe.region_loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(all_mean(float(loss.item()), procs))
        if procs.main and (step + 1) % progress_every == 0:
            recent = np.mean(losses[-progress_every:])
            log.info("step %d/%d loss %.4f (%.0f s)", step + 1, recipe.steps, recent, time.time() - start)
    sync_buffers(model, procs)
    return losses


def train_segmenter(
    recipe: SegmentRecipe,
    sim_dir: str | Path | list[str | Path],
    out: str | Path,
    device: str = "auto",
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Train on the recipe's skies (simulated into ``sim_dir`` if absent: one folder per seed of
    ``recipe.sim_seeds``) and save the checkpoint to ``out``."""
    procs = setup_processes(device)
    dirs = [Path(d) for d in (sim_dir if isinstance(sim_dir, (list, tuple)) else [sim_dir])]
    out = Path(out)
    if len(dirs) != len(recipe.sim_seeds):
        raise ValueError(
            f"{len(dirs)} sky folder(s) for {len(recipe.sim_seeds)} sky seed(s) {recipe.sim_seeds}: "
            "give one --sim-dir per seed (--sim-seed first, then --more-sim-seeds)"
        )
    if procs.main:
        for d, seed in zip(dirs, recipe.sim_seeds, strict=True):
            ensure_skies(d, recipe, progress=progress, seed=seed)
    if procs.distributed:
        dist.barrier()
    torch.manual_seed(recipe.seed)  # the same initial weights on every rank
    model = build_segmenter(recipe.arch, recipe.in_chans).to(procs.device)
    skies, negatives = [], []
    for d in dirs:
        these = load_skies(
            d,
            recipe.noise_background_px,
            recipe.noise_from_below,
            recipe.ripple_model,
            recipe.ripple_spoke_deg,
            recipe.taper_beams,
            kinds=recipe.region_loss == "dice_kind",
        )
        skies += these
        negatives += hard_negatives(d, len(these)) if recipe.negative_fraction > 0 else []
    sampler = CropSampler(
        skies,
        recipe.crop_px,
        recipe.positive_fraction,
        np.random.default_rng([recipe.seed, procs.rank]),
        negatives=negatives or None,
        negative_fraction=recipe.negative_fraction,
    )
    start = time.time()
    losses = train_steps(model, sampler, recipe, procs)
    result = dict(
        steps=recipe.steps,
        first_loss=float(np.mean(losses[:20])) if losses else float("nan"),
        final_loss=float(np.mean(losses[-20:])) if losses else float("nan"),
        seconds=round(time.time() - start, 1),
        processes=procs.world,
        device=str(procs.device),
        main=procs.main,  # only the main process reports
    )
    if procs.main:
        sky_dirs = str(dirs[0]) if len(dirs) == 1 else [str(d) for d in dirs]
        provenance = dict(result, command=command, sim_dir=sky_dirs, losses=[round(v, 5) for v in losses])
        save_segmenter(out, model, recipe, provenance)
        log.info(
            "saved %s (%s, %d steps, loss %.4f -> %.4f)",
            out,
            recipe.arch,
            recipe.steps,
            result["first_loss"],
            result["final_loss"],
        )
    if procs.distributed:
        dist.barrier()
    return result


def save_segmenter(path: str | Path, model: nn.Module, recipe: SegmentRecipe, provenance: dict[str, Any]) -> None:
    """Write a ``radioexplore-segment/1`` checkpoint: arch, float32 weights, the recipe and its provenance."""
    payload = dict(
        format=CHECKPOINT_FORMAT,
        arch=recipe.arch,
        state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
        recipe=asdict(recipe),
        provenance=provenance,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def store_calibration(path: str | Path, threshold: float, note: dict[str, Any]) -> None:
    """Store in a checkpoint the pixel threshold chosen on a calibration survey (never on test skies), with
    ``note`` saying how; ``segment`` uses it when no --threshold is given (:func:`pixel_threshold`)."""
    if not 0 < threshold < 1:
        raise ValueError(f"a pixel threshold is a probability in (0, 1); got {threshold}")
    path = Path(path)
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a segmentation checkpoint ({CHECKPOINT_FORMAT})")
    payload["calibration"] = dict(note, threshold=float(threshold))
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def pixel_threshold(threshold: float | None, meta: dict[str, Any]) -> float:
    """``threshold`` when given, else the checkpoint's calibrated one (:func:`store_calibration`), else 0.5."""
    if threshold is not None:
        return float(threshold)
    return float(meta.get("calibration", {}).get("threshold", DEFAULT_THRESHOLD))


def noise_background(meta: dict[str, Any]) -> int:
    """The noise-grid background mesh (px) a checkpoint was trained with: inference must scale its input alike."""
    return int(meta.get("recipe", {}).get("noise_background_px", 0))


def input_options(meta: dict[str, Any]) -> dict[str, Any]:
    """How a checkpoint's input was scaled in training, as :func:`radioexplore.segmentation.scaling.field_input`'s
    keywords (background mesh, noise from below, ripple model and its spokes): inference must scale its input alike."""
    recipe = meta.get("recipe", {})
    return dict(
        background_px=int(recipe.get("noise_background_px", 0)),
        from_below=bool(recipe.get("noise_from_below", False)),
        ripples=bool(recipe.get("ripple_model", False)),
        spoke_deg=float(recipe.get("ripple_spoke_deg", 0.0)),
    )


def taper_beams(meta: dict[str, Any]) -> float:
    """The FWHM, in beams, of a checkpoint's tapered second input channel (0: one channel, the image alone):
    inference must give it the same (:func:`radioexplore.segmentation.scaling.taper_channel`)."""
    return float(meta.get("recipe", {}).get("taper_beams", 0.0))


def load_segmenter(path: str | Path, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The U-Net of a ``segment-train`` checkpoint, in eval mode, and the checkpoint's other entries."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"segmentation checkpoint {path} does not exist; train one with `radioexplore segment-train`"
        )
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a segmentation checkpoint ({CHECKPOINT_FORMAT}); make one with `radioexplore segment-train`"
        )
    model = build_segmenter(payload["arch"], 2 if taper_beams(payload) > 0 else 1)
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta
