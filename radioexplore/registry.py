"""Looking a name up in one of the library's registries (scalers, backbones, rankers, ...), with one error for all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, what: str, where: str = "") -> T:
    """``registry[name]``; an unknown name raises ValueError naming ``what`` was asked for and the valid choices
    (in the registry's order), after ``where`` (e.g. the file or recipe that gave the name) when given.

    Only the look-up is guarded: a KeyError raised later by what the entry does is not turned into "unknown".
    """
    try:
        return registry[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name, e.g. a list from a TOML file
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown {what} {name!r}; choose one of {', '.join(map(str, registry))}") from None
