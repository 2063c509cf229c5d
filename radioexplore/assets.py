"""Where the shipped assets live (the demo checkpoint and its recipe), and the real-data folder beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_CHECKPOINT = "checkpoints/demo_vit_tiny16.pt"


def assets_dir() -> Path:
    """``$RADIOEXPLORE_ASSETS`` if set, else the ``assets/`` folder of the source checkout."""
    env = os.environ.get("RADIOEXPLORE_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "assets"


def demo_checkpoint() -> Path | None:
    """The shipped demo checkpoint, or None when this checkout has none."""
    path = assets_dir() / DEMO_CHECKPOINT
    return path if path.is_file() else None


def realdata_dir() -> Path:
    """The folder of real observations beside the checkout (``../shared/realdata``: SCORPIO, FR-DEEP)."""
    return Path(__file__).resolve().parents[2] / "shared" / "realdata"
