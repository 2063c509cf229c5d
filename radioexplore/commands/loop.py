"""The astronomer-in-the-loop commands: label, labels (show/undo/export/import/restore), rerank, similar, export."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from radioexplore.commands.common import embedding_name as _embedding_name
from radioexplore.commands.common import name_arg as _name_arg
from radioexplore.commands.common import non_negative_int, positive_int
from radioexplore.commands.common import run_arg as _run_arg
from radioexplore.run.errors import RunDirError
from radioexplore.run.rundir import RunDir


def _error(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _store(args: argparse.Namespace):
    from radioexplore.run.labels.integrity import LabelStoreError
    from radioexplore.run.labels.store import LabelStore

    run = RunDir(args.run)
    if not run.root.is_dir():
        raise SystemExit(
            f"error: {run.root} is not a run directory; give the folder made by `radioexplore ingest` or `demo`"
        )
    try:
        return LabelStore.for_run(run, who=getattr(args, "who", None), session=getattr(args, "session", None))
    except LabelStoreError as exc:  # a damaged labels.sqlite: say how to restore it
        raise SystemExit(f"error: {exc}") from None


def cmd_label(args: argparse.Namespace) -> int:
    from radioexplore.run.labels.values import LabelError

    store = _store(args)
    try:
        event = store.add(args.tile, args.labels, args.interest, args.tags, args.note or "")
    except LabelError as exc:
        return _error(exc)
    print(
        f"event {event.event_id}: tile {event.tile_id} {';'.join(event.labels) or '-'} interest {event.interest or '-'}"
    )
    return 0


def cmd_labels_show(args: argparse.Namespace) -> int:
    store = _store(args)
    df = store.events(args.tile) if args.events else store.current(per=args.per)
    if args.tile is not None and not args.events:
        df = df[df["tile_id"] == args.tile]
    for col in ("labels", "tags"):
        df[col] = df[col].map(";".join)
    print(df.to_string(index=False) if len(df) else "no labels")
    return 0


def cmd_labels_undo(args: argparse.Namespace) -> int:
    from radioexplore.run.labels.values import LabelError

    store = _store(args)
    try:
        event = store.undo(args.event)
    except LabelError as exc:
        return _error(exc)
    print(f"event {event.event_id}: retracted event {event.target} (tile {event.tile_id})")
    return 0


def cmd_labels_export(args: argparse.Namespace) -> int:
    try:
        RunDir(args.run).check_output_path(args.out)
    except RunDirError as exc:
        return _error(exc)
    path = _store(args).export_csv(args.out, "current" if args.current else "events")
    print(f"wrote {path}")
    return 0


def cmd_labels_import(args: argparse.Namespace) -> int:
    from radioexplore.run.labels.values import LabelError

    try:
        report = _store(args).import_csv(args.csv, who=args.who)
    except LabelError as exc:
        return _error(exc)
    print(report.summary(str(args.csv)))
    return 1 if report.refused and args.strict else 0


def cmd_labels_restore(args: argparse.Namespace) -> int:
    from radioexplore.run.labels.backups import list_backups
    from radioexplore.run.labels.restore import restore_store
    from radioexplore.run.labels.values import LabelError

    run = RunDir(args.run)
    if not run.root.is_dir():
        return _error(f"{run.root} is not a run directory")
    if args.list:
        backups = list_backups(run.label_backups)
        for b in backups:
            print(f"{b.path}  {b.taken}  " + (f"{b.events} events" if b.problem is None else f"damaged: {b.problem}"))
        if not backups:
            print(f"no backups in {run.label_backups}")
        return 0
    try:
        print(restore_store(run, args.backup, force=args.force))
    except LabelError as exc:
        return _error(exc)
    return 0


def cmd_labels_moc(args: argparse.Namespace) -> int:
    from radioexplore.io.fits_checks import FitsReadError
    from radioexplore.review.moc import reviewed_moc, write_moc

    run = RunDir(args.run)
    run.check_output_path(args.out)
    try:
        result = reviewed_moc(run, args.order)
    except (ValueError, FileNotFoundError, FitsReadError) as exc:
        return _error(exc)
    if result.n_tiles == 0:
        return _error(f"no tile of {run.root} carries a label or an interest score yet: nothing to map")
    if result.n_without_wcs == result.n_tiles:
        return _error("none of the labelled tiles' images has a celestial WCS, so they have no sky to map as a MOC")
    path = write_moc(result.moc, args.out)
    skipped = f"; {result.n_without_wcs} without a celestial WCS left out" if result.n_without_wcs else ""
    print(
        f"wrote {path}: {result.n_tiles} labelled tiles, {result.area_deg2:.4f} deg2 at order {result.order}{skipped}"
    )
    return 0


def cmd_labels_summary(args: argparse.Namespace) -> int:
    from radioexplore.io.fits_checks import FitsReadError
    from radioexplore.review.coverage import review_coverage

    run = RunDir(args.run)
    if not run.root.is_dir():
        return _error(f"{run.root} is not a run directory")
    try:
        coverage = review_coverage(run, args.name, args.threshold)
    except (ValueError, FileNotFoundError, FitsReadError) as exc:
        return _error(exc)
    print("\n".join(coverage.lines()))
    return 0


def cmd_rerank(args: argparse.Namespace) -> int:
    from radioexplore.ranking.active import ActiveConfig
    from radioexplore.ranking.active_run import read_active, rerank_run
    from radioexplore.ranking.queue import review_queue
    from radioexplore.settings import with_items

    run = RunDir(args.run)
    name = _embedding_name(run, args.name)
    try:
        config = ActiveConfig(
            regressor=args.regressor,
            blend=args.blend,
            n_components=args.components,
            weight=args.weight,
            spread=args.spread,
            seed=args.seed,
        )
        config = with_items(config, args.set)
        path = rerank_run(run, name, config)
    except ValueError as exc:
        return _error(exc)
    ranking = read_active(run, name)
    queue = review_queue(ranking, args.queue)
    print(f"wrote {path} ({int(ranking['labelled'].sum())} tiles with interest scores)")
    if "why" in ranking:  # what put each queued tile there (re-rankings since issue 24)
        why = ranking.set_index("tile_id")["why"]
        for tile in queue:
            print(f"  tile {tile}: {why[tile]}")
    print("next to review: " + " ".join(map(str, queue)))
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    from radioexplore.io.fits_checks import FitsReadError
    from radioexplore.space.cutout.query import embed_cutout
    from radioexplore.space.similarity import SimilaritySearch

    run = RunDir(args.run)
    name = _embedding_name(run, args.name)
    searcher = SimilaritySearch.from_run(run, name)
    try:
        if args.fits:
            cut = embed_cutout(run, name, args.fits, scaling_from=args.scaling_from)
            hits = searcher.from_vectors(cut.queries(), args.k)
        else:
            hits = searcher.from_tiles(_tile_list(args.tiles), args.k, mode=args.mode)
    except (IndexError, ValueError, FitsReadError) as exc:
        return _error(exc)
    print(json.dumps(hits.to_dict("records"), indent=1))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from radioexplore.io.fits_checks import FitsReadError
    from radioexplore.review.export import export, select_tiles

    run = RunDir(args.run)
    name = _embedding_name(run, args.name)
    try:
        ids = select_tiles(
            run,
            name,
            tiles=_tile_list(args.tiles) if args.tiles else None,
            label=args.label,
            top=args.top,
            ranking=args.ranking,
        )
        if len(ids) == 0:
            return _error(
                f"no tiles selected (label {args.label!r} is on no tile)" if args.label else "no tiles selected"
            )
        path = export(run, ids, args.format, args.out, name)
    except (IndexError, ValueError, FileNotFoundError, FitsReadError, RunDirError) as exc:
        return _error(exc)
    print(f"wrote {len(ids)} tiles to {path}")
    return 0


def _tile_list(text: str) -> list[int]:
    try:
        return [int(t) for t in str(text).replace(" ", "").split(",") if t]
    except ValueError:
        raise SystemExit(f"error: tiles must be comma-separated integers, like 3,17,42 (got {text!r})") from None


def _who(p: argparse.ArgumentParser) -> None:
    p.add_argument("--who", help="annotator name written with the event (default: your login name)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the astronomer-in-the-loop sub-commands."""
    from radioexplore.ranking.active import ActiveConfig
    from radioexplore.ranking.blends import BLENDS
    from radioexplore.ranking.regressors import REGRESSORS
    from radioexplore.review.export import EXPORTERS
    from radioexplore.run.labels.values import VOCABULARY

    p = sub.add_parser("label", help="label a tile (appends an event to the run's labels.sqlite)")
    _run_arg(p)
    p.add_argument("--tile", type=int, required=True, help="tile id (row of tiles.parquet)")
    p.add_argument("--labels", help=f"labels separated by ',' or ';' from: {', '.join(VOCABULARY)} (seed 002)")
    p.add_argument("--interest", type=int, help="how interesting, 1 (not at all) to 5 (very); trains the re-ranking")
    p.add_argument("--tags", help="free tags separated by ';'")
    p.add_argument("--note", help="free text")
    _who(p)
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("labels", help="show, undo, export, import or restore label events")
    lsub = p.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    q = lsub.add_parser("show", help="print the current labels (or every event)")
    _run_arg(q)
    q.add_argument("--tile", type=int, help="only this tile")
    q.add_argument("--events", action="store_true", help="every event, with an 'active' column, not the current state")
    q.add_argument(
        "--per", choices=("tile", "annotator"), default="tile", help="current state per tile or per annotator"
    )
    q.set_defaults(func=cmd_labels_show)
    q = lsub.add_parser("undo", help="retract an event (appends an undo event; nothing is deleted)")
    _run_arg(q)
    q.add_argument("--event", type=int, required=True, help="id of the event to retract (see `labels show --events`)")
    _who(q)
    q.set_defaults(func=cmd_labels_undo)
    q = lsub.add_parser("export", help="write the label events (or the current state) as CSV")
    _run_arg(q)
    q.add_argument("--out", type=Path, required=True, help="CSV file to write")
    q.add_argument("--current", action="store_true", help="the current labels per tile instead of every event")
    q.set_defaults(func=cmd_labels_export)
    q = lsub.add_parser("import", help="append the events of a CSV file; refused rows are listed with the reason")
    _run_arg(q)
    q.add_argument("csv", type=Path, help="CSV with at least tile_id and labels or interest columns")
    q.add_argument("--who", help="annotator for rows that name none (default: your login name)")
    q.add_argument("--strict", action="store_true", help="exit with status 1 when any row was refused")
    q.set_defaults(func=cmd_labels_import)
    q = lsub.add_parser(
        "restore", help="bring labels.sqlite back from a backup (the current file is moved aside, never deleted)"
    )
    _run_arg(q)
    which = q.add_mutually_exclusive_group()
    which.add_argument("--backup", type=Path, help="the backup file to restore (default: the newest good one)")
    which.add_argument("--list", action="store_true", help="list the backups with their times and event counts")
    q.add_argument("--force", action="store_true", help="replace the store even when it passes its check")
    q.set_defaults(func=cmd_labels_restore)
    q = lsub.add_parser("moc", help="write a FITS MOC of the reviewed sky (tiles with a label or an interest score)")
    _run_arg(q)
    q.add_argument("--out", type=Path, required=True, help="FITS MOC file to write")
    q.add_argument("--order", type=int, help="MOC order, 0-29 (default: cells about two image pixels across)")
    q.set_defaults(func=cmd_labels_moc)
    q = lsub.add_parser(
        "summary", help="review coverage (tiles, sky area, fields) and how many high-interest tiles remain unseen"
    )
    _run_arg(q)
    _name_arg(q)
    q.add_argument("--threshold", type=float, default=4.0, help="predicted interest (1-5) that counts as high")
    q.set_defaults(func=cmd_labels_summary)

    d = ActiveConfig()
    p = sub.add_parser(
        "rerank", help="re-rank the anomaly list with the interest scores given so far (active learning)"
    )
    _run_arg(p)
    _name_arg(p)
    p.add_argument("--regressor", choices=sorted(REGRESSORS), default=d.regressor, help="model of interest")
    p.add_argument(
        "--blend", choices=sorted(BLENDS), default=d.blend, help="how anomaly and predicted interest combine"
    )
    p.add_argument(
        "--components", type=non_negative_int, default=d.n_components, help="PCA components the regressor sees (0: all)"
    )
    p.add_argument("--weight", type=float, default=d.weight, help="share of predicted interest in the 'mix' blend")
    p.add_argument(
        "--spread",
        type=float,
        default=d.spread,
        help="how far a label reaches the touching tiles of its field, 0-1 (0: not at all)",
    )
    p.add_argument("--queue", type=positive_int, default=10, help="how many tiles of the new review queue to print")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other setting of the re-ranker (radioexplore.ranking.active.ActiveConfig), repeatable, VALUE as in "
        "TOML: e.g. --set list_hedge=false (labels not hedged against the anomaly list), --set spread_reach=source",
    )
    p.set_defaults(func=cmd_rerank)

    p = sub.add_parser("similar", help="print the K tiles most like some tiles or an uploaded FITS cutout, as JSON")
    _run_arg(p)
    _name_arg(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tiles", help="tile id(s), comma-separated")
    src.add_argument("--fits", type=Path, help="a FITS cutout, embedded with the run's backbone and scaling")
    p.add_argument("-k", type=positive_int, default=10, help="number of tiles to return")
    p.add_argument("--mode", choices=("mean", "union"), default="mean", help="how several tiles make one query")
    p.add_argument(
        "--scaling-from",
        default="auto",
        help="for --fits: the recorded scaling of the field the cutout lies in, else the run's scaling in units of its "
        "own noise ('auto'); always its own noise ('cutout'); the nearest field's ('nearest'); or a field name",
    )
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("export", help="export candidate tiles: table, DS9 regions or FITS cutouts")
    _run_arg(p)
    _name_arg(p)
    sel = p.add_mutually_exclusive_group(required=True)
    sel.add_argument("--top", type=positive_int, help="the N top-ranked tiles")
    sel.add_argument("--label", help="tiles whose current labels include this one")
    sel.add_argument("--tiles", help="tile ids, comma-separated")
    p.add_argument("--ranking", choices=("anomaly", "active"), default="anomaly", help="which ranking --top takes")
    p.add_argument(
        "--format",
        choices=sorted(EXPORTERS),
        required=True,
        help="csv, votable, fits, ds9, cutouts (zip) or moc (FITS MOC of the tiles' sky)",
    )
    p.add_argument("--out", type=Path, required=True, help="file to write")
    p.set_defaults(func=cmd_export)
