"""The label store, :class:`LabelStore`: every judgement an astronomer makes, kept for good in ``labels.sqlite``."""

from __future__ import annotations

from radioexplore.run.labels.csv_files import LabelCsv


class LabelStore(LabelCsv):
    """Append-only label events in one SQLite file; the parameters are :class:`StoreFile`'s.

    Labels are append-only *events* in SQLite (WAL mode, a busy timeout, one short ``BEGIN
    IMMEDIATE`` transaction per write), so several app sessions and command-line calls can label at
    once and no label is ever lost: the file is never rewritten, UPDATE and DELETE on the events
    table are refused by triggers, and a mistake is taken back by an ``undo`` event that retracts an
    earlier event (undoing an undo restores it). Astronomaly (Lochner & Bassett 2021) rewrites a
    CSV on every label; this store is what we do instead.

    A ``label`` event is the whole judgement of one annotator on one tile at one moment: its labels
    (several, from the vocabulary of Riggi et al. 2024, seed 002 sec. 5.1), an optional interest
    score 1-5 (seed 002 sec. 5.3, as in astronomaly), free tags and a note. It replaces, it does not
    patch: to change one field, send the others again (the app pre-fills them from
    :meth:`LabelStore.current`).

    *Current labels* are derived from the events, never stored: a label event counts unless an
    active undo event retracts it; the current state of a tile is its latest counting label event
    by anyone (``per="tile"``: the last word wins, which is what the review queue and the active
    learner use), or by each annotator separately (``per="annotator"``: one row per tile and who,
    for comparing annotators). "Latest" is by the event's time ``at`` (UTC), then by event id, so
    importing an older CSV does not override newer judgements made since.

    The file checks itself on every open (``PRAGMA quick_check``, and that it holds the events
    table): a damaged, truncated, overwritten or 0-byte ``labels.sqlite`` is refused with
    :class:`LabelStoreError`, naming the file and how to restore it, and is never written to. Only a
    missing file means a new store, which is built under a temporary name and linked into place, so
    no reader ever sees a half-made one. A store opened for a run keeps rolling backups in
    ``RUN/backups`` (SQLite's online backup API, each checked before it counts; see
    :class:`BackupPolicy`), and :func:`restore_store` brings one back, moving the damaged file aside.
    quick_check finds damage to the file's structure, not a changed byte inside a label's text: SQLite
    keeps no checksums.

    Where each part lives: ``storefile`` (opening, checks, transactions, backup triggers),
    ``writing`` (:meth:`add`, :meth:`add_many`, :meth:`undo`), ``reading`` (:meth:`events`,
    :meth:`current` and what derives from it), ``csv_files`` (:meth:`export_csv`, :meth:`import_csv`).
    """
