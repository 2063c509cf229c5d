"""Which tiles the ranking leaves out: the tile flags ('blank', 'partial') and when 'partial' is ranked after all.

A tile cut by the image edge or the primary-beam blanking ('partial') is isolated by its border, not
by what it shows: on a simulated 24-field survey of 6144 tiles, once fields were standardised
(:mod:`radioexplore.ranking.standardise`), partial tiles filled 57-91 of the forest's top 123, and a
'blank' tile (no finite pixels) is the easiest thing of all to isolate. Tiles whose ``flag`` is in
``RankConfig.exclude_flags`` ('blank', 'partial') are therefore left out of the forest and ranked
last (partial ones are kept where they are most of the tiles, see :func:`flags_to_exclude`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.run.tiletable.schema import TILE_FLAGS


def check_flags(flags) -> tuple[str, ...]:
    """``flags`` as a tuple of known tile flags; a bare string or an unknown flag raises ValueError."""
    if isinstance(flags, str):
        raise ValueError(f"exclude_flags must be a tuple of tile flags such as ('blank', 'partial'), not {flags!r}")
    flags = tuple(flags)
    unknown = [f for f in flags if f not in TILE_FLAGS]
    if unknown:
        raise ValueError(f"exclude_flags: unknown tile flag(s) {unknown}; choose from {', '.join(TILE_FLAGS)}")
    return flags


def parse_flags(text: str) -> tuple[str, ...]:
    """A comma-separated flag list as the command line gives it: 'blank,partial' -> ('blank', 'partial');
    'none' or '' -> (). Not checked here: :class:`RankConfig` (or :func:`check_flags`) says what is wrong."""
    flags = tuple(f.strip() for f in text.split(",") if f.strip())
    return () if flags == ("none",) else flags


def exclusion_mask(tiles: pd.DataFrame, flags: tuple[str, ...]) -> np.ndarray | None:
    """Tiles whose ``flag`` is one of ``flags`` (None when nothing is excluded or there is no flag column)."""
    if not flags or "flag" not in tiles:
        return None
    return tiles["flag"].astype(str).isin(check_flags(flags)).to_numpy()


def flags_to_exclude(
    flag: np.ndarray | None, flags: tuple[str, ...], stamps: bool = False
) -> tuple[tuple[str, ...], list[str]]:
    """The flags :func:`~radioexplore.ranking.rank.rank_run` leaves out of a run whose tiles carry ``flag``, and why any was kept.

    'partial' is ranked after all (i) in a stamps run, where it marks a stamp padded to the tile
    and each stamp is an object the user chose, and (ii) when partial tiles are more than half of
    the tiles that are not blank: with images a few tiles across, nearly every tile touches the
    border, a border is then the rule rather than what isolates a tile, and leaving them out would
    drop most of the survey from the ranking.
    """
    flags = check_flags(flags)
    if "partial" not in flags or flag is None:
        return flags, []
    flag = np.asarray(flag).astype(str)
    why = None
    if stamps:
        why = "stamps run: 'partial' marks a stamp padded to the tile, so partial stamps are ranked"
    else:
        n_partial, n_seen = int((flag == "partial").sum()), int((flag != "blank").sum())
        if n_partial > n_seen / 2:
            why = (
                f"{n_partial} of the {n_seen} tiles that are not blank are partial (images a few tiles across): "
                "partial tiles are ranked"
            )
    if why is None:
        return flags, []
    return tuple(f for f in flags if f != "partial"), [why]
