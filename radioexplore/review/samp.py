"""SAMP: the open tile and candidate tables out to DS9, Aladin, TOPCAT or CARTA, and sky positions back.

SAMP (IVOA Simple Application Messaging Protocol) is how those tools talk: each registers with a
hub (TOPCAT, Aladin and DS9 each run one when none is running) and subscribes to message types.
:class:`SampLink` registers the run as one client (through ``pyvo.samp``, the maintained copy of
``astropy.samp``), sends

- a tile as a FITS image with its WCS (``image.load.fits``: DS9, Aladin, CARTA), and
- a candidate table as a VOTable with UCDs (``table.load.votable``: TOPCAT, Aladin),

written into a working folder and passed as ``file://`` URLs (every SAMP tool on the same machine
reads those), and maps what comes back to a tile id:

- ``coord.pointAt.sky`` (a sky position, e.g. a click in Aladin or TOPCAT's sky plot): the tile
  whose pixel box holds it (:func:`tile_at`);
- ``table.highlight.row`` (a row picked in TOPCAT): the ``tile_id`` of that row of a table sent
  from here, else of the table at the message's URL (its ``meta.id;meta.main`` or ``tile_id``
  column, or failing that its RA/Dec).

Messages may come as notifications or as calls; calls are answered with the tile id found.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from radioexplore.run.rundir import RunDir

log = logging.getLogger(__name__)

LOAD_IMAGE = "image.load.fits"
LOAD_TABLE = "table.load.votable"
POINT_AT = "coord.pointAt.sky"
HIGHLIGHT_ROW = "table.highlight.row"

NO_HUB = "no SAMP hub is running: start TOPCAT, Aladin or DS9 (each starts one) and try again"


class SampUnavailable(RuntimeError):
    """No hub to talk to (the message says what to start)."""


def tile_at(tiles: pd.DataFrame, ra: float, dec: float, images: dict[str, Any] | None = None) -> int | None:
    """The tile whose pixel box holds ICRS ``(ra, dec)`` in degrees, or None.

    Where boxes overlap (crops of a field overlap by a few pixels) the tile whose centre is
    nearest wins. ``images`` caches the opened source images by file between calls.
    """
    from astropy.coordinates import SkyCoord

    from radioexplore.io.fits import read_image

    images = {} if images is None else images
    point = SkyCoord(float(ra), float(dec), unit="deg", frame="icrs")
    best, best_d2 = None, np.inf
    files = tiles["file"].astype(str).to_numpy()
    for file in np.unique(files):
        if file not in images:
            images[file] = read_image(file)
        wcs = images[file].wcs
        if wcs is None:
            continue
        x, y = (float(v) for v in wcs.world_to_pixel(point))
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        rows = tiles.iloc[np.flatnonzero(files == file)]
        x0, y0, size = (rows[c].to_numpy(dtype=float) for c in ("x0", "y0", "size"))
        inside = (x >= x0 - 0.5) & (x < x0 + size - 0.5) & (y >= y0 - 0.5) & (y < y0 + size - 0.5)
        if not inside.any():
            continue
        d2 = (x - (x0 + (size - 1) / 2)) ** 2 + (y - (y0 + (size - 1) / 2)) ** 2
        d2 = np.where(inside, d2, np.inf)
        i = int(np.argmin(d2))
        if d2[i] < best_d2:
            best, best_d2 = int(rows["tile_id"].iloc[i]), float(d2[i])
    return best


def table_row_tile(
    url: str, row: int, tiles: pd.DataFrame | None = None, images: dict[str, Any] | None = None
) -> int | None:
    """The tile id of row ``row`` of the VOTable at ``url`` (a ``file://`` URL or a path), or None.

    Read from its ``meta.id;meta.main`` (or ``tile_id``) column; a table without one (say, a
    catalogue cross-matched in TOPCAT) is placed by its ``pos.eq.ra;meta.main`` and
    ``pos.eq.dec;meta.main`` columns on ``tiles`` (:func:`tile_at`).
    """
    from astropy.io.votable import parse_single_table

    table = parse_single_table(url_path(url))
    data = table.array
    if not 0 <= row < len(data):
        return None
    by_ucd = {(f.ucd or "").lower(): f.name for f in table.fields}
    id_column = by_ucd.get("meta.id;meta.main") or ("tile_id" if "tile_id" in data.dtype.names else None)
    if id_column is not None:
        return int(data[id_column][row])
    ra, dec = by_ucd.get("pos.eq.ra;meta.main"), by_ucd.get("pos.eq.dec;meta.main")
    if tiles is None or ra is None or dec is None:
        return None
    return tile_at(tiles, float(data[ra][row]), float(data[dec][row]), images)


def url_path(url: str) -> Path:
    """The local path of a ``file://`` URL (or of a plain path)."""
    parsed = urlparse(str(url))
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    raise ValueError(f"{url}: only file:// URLs (tools on this machine) can be read, not {parsed.scheme}://")


class SampLink:
    """The run as one SAMP client: send tiles and tables, turn incoming positions and rows into tile ids.

    ``on_tile(tile_id)`` is called (from the client's receiving thread) for each incoming position or
    row that falls on a tile. Files sent are written to ``workdir`` (default: a temporary folder,
    removed by :meth:`close`). Use as a context manager, or call :meth:`connect` and :meth:`close`.
    """

    def __init__(
        self,
        run: RunDir,
        on_tile: Callable[[int], None] | None = None,
        workdir: str | Path | None = None,
        name: str = "radioexplore",
    ) -> None:
        self.run = run
        self.on_tile = on_tile
        self.name = name
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="radioexplore-samp-")) if workdir is None else Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.client: Any = None
        self._tables: dict[str, np.ndarray] = {}  # table-id -> tile ids of its rows
        self._images: dict[str, Any] = {}
        self._tiles: pd.DataFrame | None = None
        self._lock = threading.Lock()

    # -- connection -------------------------------------------------------------------------
    def connect(self, hub_params: dict[str, str] | None = None) -> SampLink:
        """Register with the hub (``hub_params``: a hub's ``params``; default: the running hub found by SAMP's lock file).

        Raises :class:`SampUnavailable` when no hub answers.
        """
        from pyvo.samp import SAMPHubError, SAMPIntegratedClient, SAMPProxyError

        client = SAMPIntegratedClient(name=self.name, description=f"radioexplore run {self.run.root.name}")
        try:
            client.connect(hub_params=hub_params)
        except (SAMPHubError, SAMPProxyError, OSError) as exc:
            log.debug("SAMP connect failed: %s", exc)
            raise SampUnavailable(NO_HUB) from None
        for mtype in (POINT_AT, HIGHLIGHT_ROW):
            client.bind_receive_notification(mtype, self._notified)
            client.bind_receive_call(mtype, self._called)
        self.client = client
        return self

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    def close(self) -> None:
        """Unregister from the hub and remove the working folder if it is ours."""
        if self.client is not None and self.client.is_connected:
            try:
                self.client.disconnect()
            except Exception as exc:  # the hub may be gone already
                log.debug("SAMP disconnect: %s", exc)
        self.client = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SampLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require(self) -> Any:
        if not self.connected:
            raise SampUnavailable(NO_HUB)
        return self.client

    # -- sending ----------------------------------------------------------------------------
    def send_tile(self, tile_id: int, recipient: str | None = None) -> list[str]:
        """Send tile ``tile_id`` as a FITS image with its WCS (``image.load.fits``).

        Returns the ids of the clients it went to (all subscribed ones, or ``recipient``).
        """
        from radioexplore.io.fits import read_image
        from radioexplore.review.export import cutout_hdu

        client = self._require()
        tiles = self.tiles()
        if not 0 <= int(tile_id) < len(tiles):
            raise IndexError(f"tile {tile_id} does not exist: run {self.run.root} has tiles 0..{len(tiles) - 1}")
        row = next(tiles.iloc[[int(tile_id)]].itertuples(index=False))  # a Series' .size is its length
        if row.file not in self._images:
            self._images[row.file] = read_image(row.file)
        path = self.workdir / f"tile_{int(tile_id):07d}.fits"
        cutout_hdu(self._images[row.file], row).writeto(path, overwrite=True)
        params = {"url": path.as_uri(), "image-id": f"{self.run.root.name}-tile-{int(tile_id)}"}
        params["name"] = f"tile {int(tile_id)} ({row.field})"
        return self._send(client, LOAD_IMAGE, params, recipient)

    def send_table(self, table: pd.DataFrame, name: str = "candidates", recipient: str | None = None) -> list[str]:
        """Send a candidate table (:func:`radioexplore.review.export.candidate_table`) as a VOTable (``table.load.votable``).

        Rows highlighted in it later (``table.highlight.row``) map back to its ``tile_id`` column.
        """
        from radioexplore.review.export import write_votable

        client = self._require()
        if "tile_id" not in table:
            raise ValueError(
                "the table to send needs a tile_id column (make it with radioexplore.review.export.candidate_table)"
            )
        with self._lock:
            table_id = f"{self.run.root.name}-{name}-{len(self._tables) + 1}"
            self._tables[table_id] = table["tile_id"].to_numpy(dtype=np.int64)
        path = write_votable(table, self.workdir / f"{table_id}.xml")
        return self._send(client, LOAD_TABLE, {"url": path.as_uri(), "table-id": table_id, "name": name}, recipient)

    def _send(self, client: Any, mtype: str, params: dict[str, str], recipient: str | None) -> list[str]:
        message = {"samp.mtype": mtype, "samp.params": params}
        if recipient is not None:
            client.notify(recipient, message)
            return [recipient]
        return list(client.notify_all(message) or [])

    # -- receiving --------------------------------------------------------------------------
    def tiles(self) -> pd.DataFrame:
        if self._tiles is None:
            self._tiles = self.run.read_tiles(["tile_id", "field", "file", "x0", "y0", "size"])
        return self._tiles

    def tile_for(self, mtype: str, params: dict[str, Any]) -> int | None:
        """The tile id an incoming ``coord.pointAt.sky`` or ``table.highlight.row`` points at, or None."""
        if mtype == POINT_AT:
            return tile_at(self.tiles(), float(params["ra"]), float(params["dec"]), self._images)
        if mtype == HIGHLIGHT_ROW:
            row = int(params["row"])
            ids = self._tables.get(str(params.get("table-id", "")))
            if ids is not None:
                return int(ids[row]) if 0 <= row < len(ids) else None
            if params.get("url"):
                return table_row_tile(str(params["url"]), row, self.tiles(), self._images)
            return None
        raise ValueError(f"SAMP message type {mtype!r} is not one radioexplore answers")

    def _receive(self, mtype: str, params: dict[str, Any]) -> int | None:
        try:
            tile = self.tile_for(mtype, params)
        except (KeyError, ValueError, OSError) as exc:
            log.warning("SAMP %s with %s: %s", mtype, params, exc)
            return None
        if tile is not None and self.on_tile is not None:
            self.on_tile(tile)
        return tile

    def _notified(self, private_key, sender_id, mtype, params, extra) -> None:
        self._receive(mtype, params)

    def _called(self, private_key, sender_id, msg_id, mtype, params, extra) -> None:
        tile = self._receive(mtype, params)
        client = self.client
        if client is None:  # closed meanwhile: nobody to answer through
            return
        if tile is None:
            response = {
                "samp.status": "samp.warning",
                "samp.result": {},
                "samp.error": {"samp.errortxt": "no tile there"},
            }
        else:
            response = {"samp.status": "samp.ok", "samp.result": {"tile_id": str(tile)}}
        client.reply(msg_id, response)
