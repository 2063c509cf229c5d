"""Settings given as ``KEY=VALUE`` on a command line, applied to a frozen config dataclass."""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from typing import Any


def with_items(config: Any, items: list[str], option: str = "--set") -> Any:
    """``config`` (a dataclass) with ``KEY=VALUE`` items applied, VALUE read as a TOML value (``true``, ``0.5``,
    ``"source"``) and a bare word as a string, a whole number for a float setting as a float; the dataclass
    checks the values itself.

    Raises ValueError naming the item (and ``option``, the flag it came with) when it is not ``KEY=VALUE``
    with KEY one of the config's fields.
    """
    known = [f.name for f in fields(config)]
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()
        if isinstance(getattr(config, key), float) and type(parsed) is int:
            parsed = float(parsed)  # "1" for a float setting
        changes[key] = parsed
    return replace(config, **changes)
