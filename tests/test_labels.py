"""The label store: append-only events, undo, current state, CSV round trips, concurrent writers,
and a damaged store refused on open and restored from its rolling backups."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from radioexplore.run.labels.backups import BackupPolicy, list_backups
from radioexplore.run.labels.integrity import LabelStoreError, store_problem
from radioexplore.run.labels.restore import restore_store
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.labels.values import VOCABULARY, LabelError, normalise_labels
from radioexplore.run.rundir import RunDir
from tests.conftest import run_cli


@pytest.fixture
def store(tmp_path) -> LabelStore:
    return LabelStore(tmp_path / "labels.sqlite", n_tiles=100, who="ada", session="s1")


def test_labels_are_validated_against_the_seed_vocabulary():
    assert normalise_labels("peculiar, compact") == ("COMPACT", "PECULIAR")  # vocabulary order
    assert normalise_labels(["diffuse_large", "DIFFUSE-LARGE"]) == ("DIFFUSE-LARGE",)
    assert len(VOCABULARY) == 10
    with pytest.raises(LabelError, match="unknown label 'spiral'.*BACKGROUND"):
        normalise_labels("COMPACT;spiral")


def test_bad_events_are_refused_with_the_reason(store):
    with pytest.raises(LabelError, match="from 1 to 5"):
        store.add(3, "COMPACT", interest=6)
    with pytest.raises(LabelError, match="tiles 0..99"):
        store.add(100, "COMPACT")
    with pytest.raises(LabelError, match="at least a label"):
        store.add(3)
    with pytest.raises(LabelError, match="contains ';'"):
        store.add(3, "COMPACT", tags=["a;b"])
    assert len(store) == 0


def test_current_state_is_the_latest_event_and_undo_falls_back(store):
    first = store.add(7, ["EXTENDED"], interest=3, tags=["lobes"], note="maybe FRII")
    second = store.add(7, ["EXTENDED", "PECULIAR"], interest=5)
    store.add(9, "COMPACT", interest=1)
    cur = store.current().set_index("tile_id")
    assert cur.loc[7, "labels"] == ("EXTENDED", "PECULIAR") and cur.loc[7, "interest"] == 5
    assert cur.loc[7, "event_id"] == second.event_id
    undo = store.undo()  # this session's latest label event: tile 9
    assert undo.kind == "undo" and undo.target == 3 and undo.tile_id == 9
    assert 9 not in set(store.current()["tile_id"])
    store.undo(second.event_id)
    now = store.labels_of(7)
    assert now["labels"] == ("EXTENDED",) and now["tags"] == ("lobes",) and now["event_id"] == first.event_id
    # undoing the undo restores the retracted event; nothing was ever deleted
    redo = store.undo(undo.event_id)
    assert store.labels_of(9)["labels"] == ("COMPACT",)
    assert len(store) == 6 and redo.target == undo.event_id
    ev = store.events()
    assert list(ev["active"]) == [True, False, True, False, True, True]
    with pytest.raises(LabelError, match="already retracted"):
        store.undo(second.event_id)
    with pytest.raises(LabelError, match="does not exist"):
        store.undo(999)


def test_current_per_annotator_keeps_each_annotators_judgement(store):
    store.add(4, "DIFFUSE", interest=4, who="ada")
    store.add(4, "ARTEFACT", interest=1, who="bob")
    assert store.labels_of(4)["who"] == "bob"  # per tile: the last word wins
    per = store.current(per="annotator")
    assert list(per["who"]) == ["ada", "bob"] and list(per["interest"]) == [4, 1]
    assert store.interest_scores().to_dict() == {4: 1}
    assert list(store.tiles_with("artefact")) == [4]


def test_events_cannot_be_rewritten_or_deleted(store):
    store.add(1, "COMPACT")
    con = sqlite3.connect(store.path)
    for sql in ("UPDATE events SET labels = 'PECULIAR'", "DELETE FROM events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(sql)
    con.close()
    assert store.labels_of(1)["labels"] == ("COMPACT",)
    assert store.schema_version() == 1
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused_not_touched(tmp_path):
    path = tmp_path / "labels.sqlite"
    LabelStore(path).add(0, "COMPACT")
    con = sqlite3.connect(path)
    con.execute("INSERT INTO schema_info (version) VALUES (99)")
    con.commit()
    con.close()
    with pytest.raises(LabelError, match="schema 99 is newer"):
        LabelStore(path)


def test_csv_export_and_import_round_trip(store, tmp_path):
    a = store.add(2, ["FILAMENT", "DIFFUSE"], interest=4, tags=["web", "cluster"], note="long, thin")
    store.add(3, "COMPACT", interest=1)
    store.undo(a.event_id)
    events_csv = store.export_csv(tmp_path / "events.csv", "events")
    current_csv = store.export_csv(tmp_path / "current.csv", "current")
    assert list(pd.read_csv(current_csv)["tile_id"]) == [3]
    other = LabelStore(tmp_path / "other.sqlite", n_tiles=100, who="carl")
    report = other.import_csv(events_csv)
    assert len(report.added) == 3 and report.refused == []
    assert store.current()[["tile_id", "labels", "interest", "who", "at"]].equals(
        other.current()[["tile_id", "labels", "interest", "who", "at"]]
    )
    ev = other.events()
    assert ev.loc[0, "tags"] == ("web", "cluster") and ev.loc[0, "note"] == "long, thin"
    # importing the same file again adds nothing: every row is already there
    again = other.import_csv(events_csv)
    assert again.added == [] and [line for line, _ in again.refused] == [2, 3, 4]
    assert "identical to event" in again.refused[0][1]


def test_import_names_each_refused_row_and_keeps_the_rest(store, tmp_path):
    path = tmp_path / "by_hand.csv"
    pd.DataFrame(
        {
            "tile_id": ["5", "6", "x", "500", "8", "9"],
            "labels": ["PECULIAR", "SPIRAL", "COMPACT", "COMPACT", "", "EXTENDED"],
            "interest": ["5", "", "", "", "", "7"],
            "kind": ["label"] * 6,
        }
    ).to_csv(path, index=False)
    report = store.import_csv(path, who="importer")
    assert len(report.added) == 1
    why = dict(report.refused)
    assert set(why) == {3, 4, 5, 6, 7}
    assert "SPIRAL" in why[3] and "not an integer" in why[4] and "tiles 0..99" in why[5]
    assert "at least a label" in why[6] and "1 to 5" in why[7]
    assert store.labels_of(5)["who"] == "importer"
    assert "refused line 3" in report.summary()


def _writer(path: str, who: str, n: int, start) -> None:
    store = LabelStore(path, who=who)
    start.wait(timeout=120)  # both processes write at the same time
    for i in range(n):
        store.add(i % 50, "COMPACT" if i % 2 else "EXTENDED", interest=1 + i % 5)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "labels.sqlite")
    LabelStore(path)
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, who, 1000, start)) for who in ("ada", "bob")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    ev = LabelStore(path).events()
    assert len(ev) == 2000
    assert ev["who"].value_counts().to_dict() == {"ada": 1000, "bob": 1000}
    assert ev["event_id"].is_unique
    # the writers interleaved: neither wrote all its labels before the other began
    first_bob = ev.index[ev["who"] == "bob"][0]
    first_ada = ev.index[ev["who"] == "ada"][0]
    assert max(first_ada, first_bob) < 1000


def test_an_imported_older_judgement_does_not_override_a_newer_one(store, tmp_path):
    store.add(6, "DIFFUSE", interest=4)  # now
    path = tmp_path / "old.csv"
    pd.DataFrame({"tile_id": [6], "labels": ["ARTEFACT"], "interest": [1], "at": ["2020-01-01T00:00:00Z"]}).to_csv(
        path, index=False
    )
    assert len(store.import_csv(path).added) == 1
    assert store.labels_of(6)["labels"] == ("DIFFUSE",)
    assert store.events(6)["at"].iloc[1] == "2020-01-01T00:00:00.000+00:00"


# -- a damaged store: refused on open, restored from a backup ----------------------------------
def _acking_writer(root: str, who: str, n: int, start, acks: str) -> None:
    """Label n tiles in the run at ``root``, writing each event id to ``acks`` once ``add`` has returned."""
    store = LabelStore.for_run(RunDir(root), who=who)
    start.wait(timeout=120)
    with open(acks, "a") as out:
        for i in range(n):
            event = store.add(i % 50, "COMPACT" if i % 2 else "EXTENDED", interest=1 + i % 5)
            out.write(f"{event.event_id}\n")
            out.flush()


def _acked(path: Path) -> set[int]:
    """The ids a writer acknowledged (a line cut short by a kill is not an acknowledgement)."""
    text = path.read_text() if path.exists() else ""
    return {int(line) for line in text.split("\n")[:-1]}


def _one_line_refusal(code: int, stderr: str, db: Path) -> None:
    assert code != 0 and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and str(db) in lines[0] and "is damaged" in lines[0], stderr
    assert f"radioexplore labels restore --run {db.parent}" in lines[0]


def _overwrite_middle(db: Path) -> None:
    data = db.read_bytes()
    mid = len(data) // 2 // 4096 * 4096  # a whole page in the middle of the file
    db.write_bytes(data[:mid] + b"\xde\xad\xbe\xef" * 1024 + data[mid + 4096 :])


def _truncate(db: Path) -> None:
    db.write_bytes(db.read_bytes()[: db.stat().st_size * 2 // 5])


def _zero_bytes(db: Path) -> None:
    db.write_bytes(b"")


def test_four_writers_one_killed_then_a_damaged_store_is_refused_and_restored(tmp_path, cli_main):
    """4 writers x 300 labels, one killed with SIGKILL mid-way: every acknowledged label is stored. The
    next command backs the store up; after the file is overwritten, truncated or emptied, every command
    refuses it in one line and `labels restore` brings back every acknowledged label."""
    run = RunDir(tmp_path / "run")
    LabelStore.for_run(run)
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(4)
    acks = [tmp_path / f"acks{i}.txt" for i in range(4)]
    procs = [
        ctx.Process(target=_acking_writer, args=(str(run.root), f"w{i}", 300, start, str(acks[i]))) for i in range(4)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 300
    while len(_acked(acks[0])) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(procs[0].pid, signal.SIGKILL)
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [-signal.SIGKILL, 0, 0, 0]
    acked = set().union(*map(_acked, acks))
    assert 100 <= len(_acked(acks[0])) < 300 and [len(_acked(a)) for a in acks[1:]] == [300] * 3

    db = run.labels_db
    shown = run_cli("labels", "show", "--run", run.root, "--events")  # opening the changed store backs it up
    assert "EXTENDED" in shown.stdout
    stored = set(LabelStore.for_run(run).events()["event_id"])
    assert acked <= stored  # 0 acknowledged labels lost to the kill
    newest = list_backups(run.label_backups)[0]
    assert newest.problem is None and newest.events == len(stored)
    listing = run_cli("labels", "restore", "--run", run.root, "--list").stdout
    assert f"{newest.path}  {newest.taken}  {len(stored)} events" in listing.splitlines()[0]

    for damage in (_overwrite_middle, _truncate, _zero_bytes):
        assert not Path(f"{db}-wal").exists()  # the last writer checkpointed: the damage is in the only copy
        damage(db)
        damaged = db.read_bytes()
        assert store_problem(run) is not None
        for command in (
            ["labels", "show"],
            ["label", "--tile", "1", "--labels", "COMPACT"],
            ["labels", "export", "--out", tmp_path / "labels.csv"],
        ):
            code, _, err = cli_main(*command, "--run", run.root, check=False)
            _one_line_refusal(code, err, db)
        with pytest.raises(LabelStoreError, match="is damaged"):
            LabelStore.for_run(run)
        assert db.read_bytes() == damaged  # refused, not repaired or reset

        out = run_cli("labels", "restore", "--run", run.root)
        assert out.stdout.count("\n") == 1 and f"from {newest.path.name} ({len(stored)} events" in out.stdout
        aside = run.root / out.stdout.strip().rsplit(" aside to ", 1)[1]
        assert aside.read_bytes() == damaged  # moved aside, never deleted
        events = LabelStore.for_run(run).events()
        assert set(events["event_id"]) == stored and acked <= stored
        counts = events["who"].value_counts().to_dict()
        assert [counts[f"w{i}"] for i in (1, 2, 3)] == [300] * 3 and counts["w0"] >= len(_acked(acks[0]))
    assert len(list(run.root.glob("labels-damaged-*.sqlite"))) == 3


def test_a_zero_byte_store_is_refused_not_taken_as_empty(tmp_path):
    run = RunDir(tmp_path / "run")
    store = LabelStore.for_run(run)
    store.add_many([{"tile_id": t, "labels": "COMPACT"} for t in range(5)])
    assert list_backups(run.label_backups) == []  # fewer events than BackupPolicy.every, no open since
    LabelStore.for_run(run)  # opening a store that changed takes a backup
    run.labels_db.write_bytes(b"")
    for _ in range(2):  # and stays refused: the first refusal did not make it an empty store
        with pytest.raises(LabelStoreError, match=r"empty \(0 bytes\), not an empty label store.*labels restore"):
            LabelStore.for_run(run)
        assert run.labels_db.stat().st_size == 0
    bad = run_cli("label", "--run", run.root, "--tile", "1", "--labels", "COMPACT", check=False)
    _one_line_refusal(bad.returncode, bad.stderr, run.labels_db)
    assert run.labels_db.stat().st_size == 0
    run_cli("labels", "restore", "--run", run.root)
    assert list(LabelStore.for_run(run).events()["tile_id"]) == [0, 1, 2, 3, 4]
    # only a missing file means a new, empty store
    fresh = RunDir(tmp_path / "fresh")
    assert len(LabelStore.for_run(fresh)) == 0 and store_problem(fresh) is None


def test_backups_roll_every_n_events_and_a_damaged_backup_is_skipped(tmp_path):
    run = RunDir(tmp_path / "run")
    store = LabelStore.for_run(run, durable=False, backups=BackupPolicy(every=5, keep=3))
    for t in range(23):
        store.add(t, "COMPACT")
    backups = list_backups(run.label_backups)
    assert [b.events for b in backups] == [20, 15, 10]  # after events 5, 10, 15, 20; the newest 3 kept
    LabelStore.for_run(run, backups=BackupPolicy(every=5, keep=3))  # changed since the last: backed up
    LabelStore.for_run(run, backups=BackupPolicy(every=5, keep=3))  # unchanged: not again
    assert [b.events for b in list_backups(run.label_backups)] == [23, 20, 15]

    newest = list_backups(run.label_backups)[0].path
    newest.write_bytes(newest.read_bytes()[:4096])  # a backup damaged on disk does not count
    listing = run_cli("labels", "restore", "--run", run.root, "--list").stdout.splitlines()
    assert "damaged:" in listing[0] and listing[1].endswith("20 events")
    refused = run_cli("labels", "restore", "--run", run.root, check=False)
    assert refused.returncode == 2 and "passes its check (23 events)" in refused.stderr and "--force" in refused.stderr
    run.labels_db.write_bytes(run.labels_db.read_bytes()[:4096])
    out = run_cli("labels", "restore", "--run", run.root).stdout
    assert "(20 events" in out and "moved the damaged store aside" in out
    assert len(LabelStore.for_run(run, backups=None)) == 20
    # a named file, e.g. a copy kept elsewhere
    chosen = list_backups(run.label_backups)[-1]
    message = restore_store(run, chosen.path, force=True)
    assert f"from {chosen.path.name} (15 events" in message and "moved the previous store aside" in message
    assert len(LabelStore.for_run(run, backups=None)) == 15
    with pytest.raises(LabelStoreError, match="cannot be restored"):
        restore_store(run, newest, force=True)
