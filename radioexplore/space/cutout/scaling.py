"""The run's scaling state for a cutout scaled in units of its own noise, as the run's fields are in theirs."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Entries of a scaler's state that are not in Jy/beam (see :mod:`radioexplore.ingest.scaling`).
DIMENSIONLESS = frozenset({"top"})


def noise_state(states: dict, tiles: pd.DataFrame, rms: float) -> dict | None:
    """The run's scaling state for a cutout of noise ``rms``: each field's recorded state in units of
    that field's median tile noise, the median over fields, times ``rms``; None if none can be made.

    Radio images have a zero-mean background, so a state in Jy/beam scales with the noise; a
    dimensionless entry (sign-log's ``top``) is taken as the fields' median as it is.
    """
    noise = tiles.dropna(subset=["noise_rms"]).groupby("field")["noise_rms"].median()
    rows = []
    for name, state in states.items():
        sigma = noise.get(name, np.nan)
        if np.isfinite(sigma) and sigma > 0:
            rows.append({k: (float(v) if k in DIMENSIONLESS else float(v) / sigma) for k, v in state.items()})
    if not rows:
        return None
    typical = pd.DataFrame(rows).median()
    return {k: float(v) if k in DIMENSIONLESS else float(v) * rms for k, v in typical.items()}
