"""The values of a label event, checked: seed 002's vocabulary and interest scale, tags, times, annotators."""

from __future__ import annotations

import datetime as _dt
import getpass
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

#: Labels of Riggi et al. 2024 (seed 002, sec. 5.1); several may be given to one tile.
VOCABULARY: tuple[str, ...] = (
    "BACKGROUND",
    "COMPACT",
    "EXTENDED",
    "RADIO-GALAXY",
    "DIFFUSE",
    "DIFFUSE-LARGE",
    "FILAMENT",
    "ARTEFACT",
    "PECULIAR",
    "MOSAICKING",
)
#: "Interesting" frames of seed 002, sec. 5.2 (EXTENDED, DIFFUSE, DIFFUSE-LARGE), plus PECULIAR.
INTERESTING: frozenset[str] = frozenset({"EXTENDED", "DIFFUSE", "DIFFUSE-LARGE", "PECULIAR"})

INTEREST_RANGE = (1, 5)  # seed 002 sec. 5.3: "how peculiar a frame is judged on a scale of 1 to 5"
#: Separator of several labels or tags in one CSV cell.
SEPARATOR = ";"


class LabelError(ValueError):
    """A label event that cannot be stored; the message says which value is wrong and what is allowed."""


def normalise_labels(labels: str | Iterable[str] | None) -> tuple[str, ...]:
    """Labels in vocabulary order, upper case, ``_`` read as ``-``; raises LabelError on an unknown one.

    Accepts a list or one string with labels separated by ``;`` or ``,``.
    """
    if labels is None:
        return ()
    if isinstance(labels, str):
        labels = labels.replace(",", SEPARATOR).split(SEPARATOR)
    wanted = set()
    for raw in labels:
        name = str(raw).strip().upper().replace("_", "-").replace(" ", "-")
        if not name:
            continue
        if name not in VOCABULARY:
            raise LabelError(f"unknown label {str(raw).strip()!r}; the labels are {', '.join(VOCABULARY)} (seed 002)")
        wanted.add(name)
    return tuple(v for v in VOCABULARY if v in wanted)


def normalise_tags(tags: str | Iterable[str] | None) -> tuple[str, ...]:
    """Free tags, stripped, de-duplicated in order; a tag may not contain ``;`` (the CSV separator)."""
    if tags is None:
        return ()
    if isinstance(tags, str):
        tags = tags.split(SEPARATOR)
    out: list[str] = []
    for raw in tags:
        tag = str(raw).strip()
        if not tag:
            continue
        if SEPARATOR in tag:
            raise LabelError(f"tag {tag!r} contains {SEPARATOR!r}, which separates tags in CSV files; remove it")
        if tag not in out:
            out.append(tag)
    return tuple(out)


def check_interest(interest: Any) -> int | None:
    """An interest score as int 1-5, or None; raises LabelError otherwise."""
    if interest is None or (isinstance(interest, float) and np.isnan(interest)) or interest == "":
        return None
    try:
        value = float(interest)
    except (TypeError, ValueError):
        raise LabelError(f"interest {interest!r} is not a number; give an integer 1-5 or leave it empty") from None
    lo, hi = INTEREST_RANGE
    if value != int(value) or not lo <= value <= hi:
        raise LabelError(f"interest {interest!r} must be an integer from {lo} to {hi} (seed 002 sec. 5.3)")
    return int(value)


def utc_now() -> str:
    """The current time as UTC ISO 8601 with milliseconds."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def check_time(at: str) -> str:
    """``at`` as UTC ISO 8601; a time without a zone is taken to be UTC."""
    try:
        t = _dt.datetime.fromisoformat(str(at).strip().replace("Z", "+00:00"))
    except ValueError:
        raise LabelError(f"time {at!r} is not ISO 8601 (e.g. 2024-05-01T12:30:00+00:00)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.astimezone(_dt.UTC).isoformat(timespec="milliseconds")


def default_who() -> str:
    """The annotator name used when none is given: the login name."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER", "unknown")
