"""The simulation folder contract: every path ``radioexplore simulate`` writes and its readers open.

One owner for the file names, as :class:`radioexplore.run.rundir.RunDir` is for a run directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SimulationDir:
    """A simulated survey's folder: FITS images plus the truth tables, masks and configuration beside them."""

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def truth(self) -> Path:
        """Every simulated object: field, kind, position, flux, size, key points (CSV)."""
        return self.root / "truth.csv"

    @property
    def catalogue(self) -> Path:
        """The compact sources above the detection limit, as a PyBDSF-like CSV."""
        return self.root / "catalogue.csv"

    @property
    def pybdsf(self) -> Path:
        """Every detectable source as a PyBDSF source list (FITS)."""
        return self.root / "pybdsf_srl.fits"

    @property
    def fields(self) -> Path:
        """One row per field: field, file, ra, dec, dqf, central noise (CSV)."""
        return self.root / "fields.csv"

    @property
    def artefacts(self) -> Path:
        """Per field, the largest artefact amplitude per block in units of the local noise (NPZ)."""
        return self.root / "artefacts.npz"

    @property
    def clusters(self) -> Path:
        """Per field, the cluster at its centre: position, R500 and whether it has diffuse emission (CSV)."""
        return self.root / "clusters.csv"

    @property
    def config(self) -> Path:
        """The SimulationConfig the survey was made with (JSON)."""
        return self.root / "simulation.json"

    @property
    def diffuse_dir(self) -> Path:
        """The folder of per-field diffuse-emission masks."""
        return self.root / "diffuse"

    def diffuse(self, field: str) -> Path:
        """The per-pixel diffuse labels of one field (NPZ with ``labels`` and ``kinds``)."""
        return self.diffuse_dir / f"{field}.npz"

    def image(self, file: str) -> Path:
        """A field's FITS image, by the ``file`` column of :attr:`fields`."""
        return self.root / file

    def images(self) -> list[Path]:
        """The field images the simulator wrote (``field_NNN.fits``), in field order."""
        return sorted(self.root.glob("field_*.fits"))

    def outputs(self) -> dict[str, Path]:
        """What ``simulate_survey`` returns: the tables and masks it wrote, by name."""
        return {
            "truth": self.truth,
            "catalogue": self.catalogue,
            "pybdsf": self.pybdsf,
            "fields": self.fields,
            "artefacts": self.artefacts,
            "diffuse": self.diffuse_dir,
            "clusters": self.clusters,
        }
