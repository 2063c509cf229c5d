"""The object kinds the simulator draws, the sets the truth columns use, and each kind's size and brightness prior."""

from __future__ import annotations

#: Object kinds the simulator tags as peculiar (rare by construction).
PECULIAR_KINDS = frozenset({"orc", "xrg", "grg"})
#: Object kinds that are extended radio sources.
EXTENDED_KINDS = frozenset({"fr1", "fr2", "bent", "halo", "relic", "filament"}) | PECULIAR_KINDS
#: Every kind in the order the preview grid shows them.
KINDS = ("compact", "fr1", "fr2", "bent", "halo", "relic", "filament", "orc", "xrg", "grg")

#: Size (arcsec: end-to-end extent, or diameter / length) and amplitude ranges per kind.
#: Amplitude: total flux in mJy for radio galaxies, peak surface brightness in units of the
#: field's central noise for diffuse kinds (see :mod:`radioexplore.simulation.morphology`).
KIND_PRIORS: dict[str, dict[str, tuple[float, float]]] = {
    "fr1": {"size": (40, 240), "amplitude": (2, 100)},
    "fr2": {"size": (40, 300), "amplitude": (2, 100)},
    "bent": {"size": (40, 200), "amplitude": (2, 60)},
    "xrg": {"size": (80, 300), "amplitude": (5, 80)},
    "grg": {"size": (420, 900), "amplitude": (10, 100)},  # > 0.7 Mpc: 7-15 arcmin at z ~ 0.1-0.2
    "halo": {"size": (180, 600), "amplitude": (3, 8)},
    "relic": {"size": (150, 500), "amplitude": (6, 15)},
    "filament": {"size": (150, 600), "amplitude": (4, 8)},
    "orc": {"size": (50, 100), "amplitude": (6, 12)},  # ORC 1 is ~80 arcsec across (Norris et al. 2021)
}
