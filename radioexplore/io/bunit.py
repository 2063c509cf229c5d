"""Radio image units: the Jy/beam family of BUNIT values (Jy/beam, mJy/beam, uJy/beam, ...) and their factor."""

from __future__ import annotations

import re

#: Prefixes of the Jy/beam family of BUNIT values and their factor to Jy/beam. BUNIT is matched
#: case-insensitively, so 'MJY/BEAM' reads as milli (mega-Jansky per beam is not a radio image unit).
JY_PREFIXES = {"": 1.0, "m": 1e-3, "milli": 1e-3, "u": 1e-6, "micro": 1e-6, "n": 1e-9, "nano": 1e-9}
_JY_PER_BEAM = re.compile(r"^(?P<prefix>[a-z]*)jy(/beam|/bm|/b|beam-1|beam\^-1|beam\*\*-1|/beam\^1)$")


def jy_per_beam_scale(bunit: str) -> float | None:
    """Factor from ``bunit`` to Jy/beam for the Jy/beam family (Jy/beam, mJy/beam, uJy/beam, 'JY BEAM-1', ...).

    None for anything else (K, Jy/pixel, an empty or unknown unit): those cannot be converted.
    """
    text = str(bunit).strip().lower().replace("\u00b5", "u").replace("\u03bc", "u")
    text = re.sub(r"[\s.*]+", "", text)
    match = _JY_PER_BEAM.match(text)
    if match is None:
        return None
    return JY_PREFIXES.get(match["prefix"])
