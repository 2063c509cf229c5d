"""Where the shipped assets live (the checkpoints and their recipes), and the real-data folder named by the environment."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_CHECKPOINT = "checkpoints/demo_vit_tiny16.pt"
REAL_CHECKPOINT = "checkpoints/real_vit_tiny16.pt"
GALAXIES_CHECKPOINT = "checkpoints/galaxies_vit_tiny16.pt"
#: Shipped checkpoints by the short name that ``--checkpoint`` accepts: ``demo`` embeds by default;
#: ``real`` is the same recipe with real images a larger share of its mix (issue 10), the better
#: one for real stamps (FR-DEEP FIRST 14.6% error against 16.7% for ``demo``); ``galaxies`` the same
#: recipe, trained 4x longer, on source-centred stamps of simulated surveys rich in radio galaxies, no real
#: image in its mix, so FR-DEEP measures it honestly; the backbone for object stamps and the network-only
#: ring / X probe (issue 21; assets/checkpoints/README.md).
SHIPPED_CHECKPOINTS = {"demo": DEMO_CHECKPOINT, "real": REAL_CHECKPOINT, "galaxies": GALAXIES_CHECKPOINT}

#: The diffuse-emission U-Net (seed 004) that ``radioexplore segment`` uses by default.
DIFFUSE_CHECKPOINT = "checkpoints/unet_diffuse.pt"


def assets_dir() -> Path:
    """``$RADIOEXPLORE_ASSETS`` if set, else the ``assets/`` folder of the source checkout."""
    env = os.environ.get("RADIOEXPLORE_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "assets"


def demo_checkpoint() -> Path | None:
    """The shipped demo checkpoint, or None when this checkout has none."""
    path = assets_dir() / DEMO_CHECKPOINT
    return path if path.is_file() else None


def diffuse_checkpoint() -> Path | None:
    """The shipped diffuse-emission segmentation checkpoint, or None when this checkout has none."""
    path = assets_dir() / DIFFUSE_CHECKPOINT
    return path if path.is_file() else None


def shipped_checkpoints() -> dict[str, Path]:
    """The shipped checkpoints present in this checkout, by short name (``demo`` first)."""
    found = {name: assets_dir() / rel for name, rel in SHIPPED_CHECKPOINTS.items()}
    return {name: path for name, path in found.items() if path.is_file()}


def resolve_checkpoint(value: str | Path) -> Path:
    """A checkpoint path from ``--checkpoint``: a file, or the short name of a shipped one (``demo``, ``real``, ``galaxies``)."""
    path = Path(value)
    if path.is_file() or str(value) not in SHIPPED_CHECKPOINTS:
        return path
    shipped = assets_dir() / SHIPPED_CHECKPOINTS[str(value)]
    if not shipped.is_file():
        raise FileNotFoundError(
            f"--checkpoint {value}: the shipped checkpoint {shipped} is missing from this checkout "
            f"(present: {', '.join(shipped_checkpoints()) or 'none'}); give a checkpoint file instead"
        )
    return shipped


#: Environment variable naming the folder of real observations (SCORPIO images, frdeep.npz; README, "Real data").
REALDATA_ENV = "RADIOEXPLORE_REALDATA"


def realdata_dir() -> Path | None:
    """The real-data folder named by ``$RADIOEXPLORE_REALDATA``, or None when it is unset (nothing is guessed)."""
    env = os.environ.get(REALDATA_ENV)
    return Path(env) if env else None
