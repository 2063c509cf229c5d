"""How the map colours a column: categories in their natural order and in clearly different colours,
flux columns in the display unit of :mod:`radioexplore.display.units` (the unit the tables show).

Bokeh lists a categorical legend in the order the categories first appear in the data, so the
points of a point-by-point map are sorted by category (DQF 0, 1, 2, 3, then n/a) rather than left
in tile order; a rasterised map keeps tile order (its colours come from the category order).
"""

from __future__ import annotations

import colorcet as cc
import holoviews as hv
import numpy as np
import pandas as pd

from radioexplore.display.units import display_unit, is_jy_per_beam

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
    """``values`` as text categories ordered naturally (0, 1, 2, 3, ..., then a-z, then n/a).

    Made from codes: only the distinct values are turned into text and sorted, so 10^6 rows cost
    one factorisation, not a string per row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str)
    text = text.replace({"<NA>": MISSING, "nan": MISSING, "None": MISSING}).tolist()
    if (codes < 0).any():
        text.append(MISSING)  # the code -1 (a missing value) indexes this last entry
    order = sorted(dict.fromkeys(text), key=_sort_key)
    position = {name: i for i, name in enumerate(order)}
    recode = np.array([position[name] for name in text], dtype=np.int32)
    return pd.Categorical.from_codes(recode[codes] if len(codes) else codes, categories=order, ordered=True)


def category_colours(categories: list[str]) -> dict[str, str]:
    """One colour per category, in order; the missing category is grey."""
    colours = iter(PALETTE * (len(categories) // len(PALETTE) + 1))
    return {c: MISSING_COLOUR if c == MISSING else next(colours) for c in categories}


def _all_jy_per_beam(bunit: pd.Series) -> bool:
    """Whether every tile's BUNIT is Jy/beam, checking each distinct unit once (not once per tile)."""
    return all(is_jy_per_beam(u) for u in pd.unique(bunit.to_numpy(dtype=object)))


def colour_frame(
    frame: pd.DataFrame,
    column: str,
    categorical: bool,
    bunit: pd.Series | None = None,
    sort: bool = True,
) -> tuple[pd.DataFrame, hv.Dimension, dict[str, str] | None]:
    """``frame`` ready to be coloured by ``column``: sorted by category (so the legend is ordered) or
    with a flux column in the display unit; the colour dimension and, for categories, their colours.

    ``sort=False`` keeps the rows in their order: a rasterised map has no Bokeh legend to order
    (its colours follow the categories' order), and sorting 10^6 rows would cost a copy of them."""
    if categorical:
        cats = ordered_categories(frame[column])
        frame = frame.assign(**{column: cats})
        if sort:
            order = np.argsort(cats.codes, kind="stable")
            frame = frame.iloc[order].reset_index(drop=True)
        names = [str(c) for c in cats.categories]
        return frame, hv.Dimension(column, values=names), category_colours(names)
    if column in FLUX_COLUMNS and bunit is not None and len(bunit) and _all_jy_per_beam(bunit):
        unit = display_unit("JY/BEAM")
        frame = frame.assign(**{column: unit.values(frame[column].to_numpy(dtype=float))})
        return frame, hv.Dimension(column, label=column, unit=unit.label), None
    return frame, hv.Dimension(column), None
