"""The label store: append-only events, undo, current state, CSV round trips, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pandas as pd
import pytest

from radioexplore.labels import VOCABULARY, LabelError, LabelStore, normalise_labels


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
