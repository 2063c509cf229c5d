"""How the map colours a column: categories in their natural order and in clearly different colours,
flux columns in the display unit of :mod:`radioexplore.units` (the unit the tables show).

Bokeh lists a categorical legend in the order the categories first appear in the data, so the
points are sorted by category (DQF 0, 1, 2, 3, then n/a) rather than left in tile order.
"""

from __future__ import annotations

import colorcet as cc
import holoviews as hv
import numpy as np
import pandas as pd

from radioexplore.units import display_unit, is_jy_per_beam

#: tiles.parquet columns in Jy/beam (shown in the display unit on the map, as in the ranking table).
FLUX_COLUMNS = ("noise_rms",)
#: Category of a missing value.
MISSING = "n/a"
#: Colour of the missing category: a light grey, so it reads as "no value".
MISSING_COLOUR = "#bdbdbd"
#: Category colours: Category10 first (blue, orange, green, red...), then as distinct as can be.
PALETTE = list(cc.palette["glasbey_category10"])


def _sort_key(text: str) -> tuple:
    """Numbers in numeric order first, then text in alphabetical order, the missing value last."""
    if text == MISSING:
        return (2, 0.0, "")
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def ordered_categories(values: pd.Series) -> pd.Categorical:
    """``values`` as text categories ordered naturally (0, 1, 2, 3, ..., then a-z, then n/a)."""
    text = values.astype(object).where(values.notna(), MISSING).astype(str)
    text = text.replace({"<NA>": MISSING, "nan": MISSING, "None": MISSING})
    order = sorted(text.unique(), key=_sort_key)
    return pd.Categorical(text, categories=order, ordered=True)


def category_colours(categories: list[str]) -> dict[str, str]:
    """One colour per category, in order; the missing category is grey."""
    colours = iter(PALETTE * (len(categories) // len(PALETTE) + 1))
    return {c: MISSING_COLOUR if c == MISSING else next(colours) for c in categories}


def colour_frame(
    frame: pd.DataFrame, column: str, categorical: bool, bunit: pd.Series | None = None
) -> tuple[pd.DataFrame, hv.Dimension, dict[str, str] | None]:
    """``frame`` ready to be coloured by ``column``: sorted by category (so the legend is ordered) or
    with a flux column in the display unit; the colour dimension and, for categories, their colours."""
    if categorical:
        cats = ordered_categories(frame[column])
        frame = frame.assign(**{column: cats})
        order = np.argsort(cats.codes, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        names = [str(c) for c in cats.categories]
        return frame, hv.Dimension(column, values=names), category_colours(names)
    if column in FLUX_COLUMNS and bunit is not None and len(bunit) and bunit.map(is_jy_per_beam).all():
        unit = display_unit("JY/BEAM")
        frame = frame.assign(**{column: unit.values(frame[column].to_numpy(dtype=float))})
        return frame, hv.Dimension(column, label=column, unit=unit.label), None
    return frame, hv.Dimension(column), None
