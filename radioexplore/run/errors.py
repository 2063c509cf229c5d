"""The error of a run directory that lacks an artefact or holds one that breaks the contract."""

from __future__ import annotations


class RunDirError(RuntimeError):
    """A run directory lacks an artefact or holds one that does not fit the contract."""
