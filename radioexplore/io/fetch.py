"""FITS cutouts from a VO image service (SIA or SIA2) for a list of positions, resumable.

``positions`` (CSV with ``ra,dec[,name]`` in degrees, or a VOTable) -> one query per position
through pyvo -> the first FITS images listed are downloaded into a folder, ready for
``radioexplore ingest --stamps``. Network calls are retried a bounded number of times with
exponential back-off; a download goes to a temporary name and is renamed only when complete
and readable as a FITS image, so an interrupted run never leaves half a file that looks whole.
Every finished position is appended to ``manifest.jsonl`` in the output folder; a second run
skips positions whose file is there and valid (the cache) and retries the rest (resumption).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from radioexplore.io.fits import read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.run.atomic import atomic_path

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"


class FetchError(RuntimeError):
    """A positions file or a service that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class FetchConfig:
    """Where and how to fetch cutouts."""

    service: str  # base URL of the SIA (v1) or SIA2 query endpoint
    protocol: str = "sia"  # "sia" (Simple Image Access 1.0) or "sia2"
    size_deg: float = 0.05  # cutout / search size: SIA SIZE, SIA2 circle diameter (3 arcmin)
    image_format: str = "image/fits"
    max_per_position: int = 1  # images kept per position (the first ones the service lists)
    retries: int = 3  # extra attempts after a failed query or download
    backoff_s: float = 1.0  # wait before the first retry, doubled each time
    timeout_s: float = 60.0


@dataclass
class FetchReport:
    """What a fetch did, by position name."""

    downloaded: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # the service lists no image there
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"downloaded {len(self.downloaded)}, already there {len(self.cached)}, "
            f"no image {len(self.empty)}, failed {len(self.failed)}"
        ]
        lines += [f"  FAILED {name}: {why}" for name, why in self.failed.items()]
        if self.failed:
            lines.append("  run the same command again to retry what failed; what is done is kept")
        return "\n".join(lines)


def read_positions(path: str | Path) -> pd.DataFrame:
    """Positions as ``name, ra, dec`` (degrees) from a CSV (``ra,dec[,name]``) or a VOTable.

    Column names are matched without regard to case (RA/DEC, RAJ2000/DEJ2000 too); rows without a
    name are named from their position (``J123.4567-12.3456``).
    """
    path = Path(path)
    if not path.is_file():
        raise FetchError(f"{path}: no such positions file")
    try:
        if path.suffix.lower() in (".xml", ".vot", ".votable"):
            from astropy.table import Table

            table = Table.read(path, format="votable").to_pandas()
        else:
            table = pd.read_csv(path, comment="#", skipinitialspace=True)
    except Exception as exc:
        raise FetchError(f"{path}: cannot read positions as CSV or VOTable ({exc})") from exc
    cols = {str(c).strip().lower(): c for c in table.columns}
    ra = next((cols[c] for c in ("ra", "raj2000", "ra_deg", "_raj2000") if c in cols), None)
    dec = next((cols[c] for c in ("dec", "dej2000", "dec_deg", "_dej2000", "decj2000") if c in cols), None)
    if ra is None or dec is None:
        raise FetchError(f"{path}: needs ra and dec columns in degrees; found {', '.join(map(str, table.columns))}")
    out = pd.DataFrame(
        {"ra": pd.to_numeric(table[ra], errors="coerce"), "dec": pd.to_numeric(table[dec], errors="coerce")}
    )
    bad = out.index[out["ra"].isna() | out["dec"].isna() | ~out["dec"].between(-90, 90)]
    if len(bad):
        raise FetchError(f"{path}: row {int(bad[0]) + 1} of the data has no valid ra/dec in degrees")
    name_col = cols.get("name")
    names = table[name_col].astype(str).str.strip() if name_col is not None else pd.Series([""] * len(out))
    out.insert(
        0,
        "name",
        [n if n and n != "nan" else default_name(r, d) for n, r, d in zip(names, out.ra, out.dec, strict=True)],
    )
    out["name"] = [_safe(n) for n in out["name"]]
    dup = out["name"][out["name"].duplicated()]
    if len(dup):
        raise FetchError(f"{path}: position names must be unique; {dup.iloc[0]!r} repeats")
    return out


def default_name(ra: float, dec: float) -> str:
    """A file-safe name from a position: ``J{ra:.4f}{dec:+.4f}``."""
    return f"J{ra:08.4f}{dec:+08.4f}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name).strip("._") or "position"


def valid_fits(path: Path) -> bool:
    """Whether ``path`` is a complete FITS file with an image of at least 2 axes."""
    try:
        read_image(path)
    except FitsReadError:
        return False
    return True


def read_manifest(out: Path) -> dict[str, dict]:
    """The last manifest entry per position name; a half-written last line is ignored."""
    path = out / MANIFEST
    entries: dict[str, dict] = {}
    if not path.is_file():
        return entries
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        entries[entry["name"]] = entry
    return entries


def _append_manifest(out: Path, entry: dict) -> None:
    with open(out / MANIFEST, "a") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()


def _retry(what: str, fn: Callable, config: FetchConfig, sleep: Callable[[float], None] = time.sleep):
    """Call ``fn`` up to ``1 + config.retries`` times, waiting ``backoff_s * 2^k`` between tries."""
    for attempt in range(config.retries + 1):
        try:
            return fn()
        except Exception as exc:  # network, HTTP and VOTable errors all deserve a retry
            if attempt == config.retries:
                raise FetchError(f"{what}: {type(exc).__name__}: {exc} (after {attempt + 1} attempts)") from exc
            wait = config.backoff_s * 2**attempt
            log.warning("%s failed (%s); retrying in %.1f s", what, exc, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def query_images(ra: float, dec: float, config: FetchConfig, session=None) -> list[str]:
    """Access URLs of the FITS images the service lists at (``ra``, ``dec``), in its order."""
    import pyvo

    if config.protocol == "sia":
        service = pyvo.dal.SIAService(config.service, session=session)
        results = service.search(pos=(ra, dec), size=config.size_deg, format=config.image_format)
        urls = [(r.getdataurl(), r.format or "") for r in results]
    elif config.protocol == "sia2":
        service = pyvo.dal.SIA2Service(config.service, session=session, check_baseurl=False)
        results = service.search(pos=(ra, dec, config.size_deg / 2.0))
        urls = [(r.access_url, r.access_format or "") for r in results]
    else:
        raise FetchError(f"unknown protocol {config.protocol!r}; choose sia or sia2")
    return [u for u, fmt in urls if u and ("fits" in fmt.lower() or not fmt)]


def download(url: str, target: Path, config: FetchConfig, session=None) -> None:
    """Download ``url`` to ``target`` through a temporary file; keep it only if it is a valid FITS image."""
    import requests

    http = session or requests
    with atomic_path(target) as tmp:
        with http.get(url, stream=True, timeout=config.timeout_s) as resp:
            resp.raise_for_status()
            with open(tmp, "wb") as fh:
                for chunk in resp.iter_content(1 << 16):
                    fh.write(chunk)
        if not valid_fits(tmp):
            raise FetchError(f"{url}: the download is not a complete FITS image")


def fetch_cutouts(
    positions: pd.DataFrame,
    out: str | Path,
    config: FetchConfig,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchReport:
    """Fetch FITS cutouts for every position into ``out``; resumable (see the module docstring)."""
    import requests

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = read_manifest(out)
    report = FetchReport()
    session = requests.Session()
    for row in tqdm(list(positions.itertuples()), desc="fetch cutouts", unit="position", disable=not progress):
        name, ra, dec = row.name, float(row.ra), float(row.dec)
        previous = done.get(name)
        if previous and previous["status"] in ("done", "empty") and all(valid_fits(out / f) for f in previous["files"]):
            (report.cached if previous["status"] == "done" else report.empty).append(name)
            continue
        entry = dict(name=name, ra=ra, dec=dec, files=[], urls=[], status="failed", error="")
        try:
            urls = _retry(
                f"query at {name}", lambda ra=ra, dec=dec: query_images(ra, dec, config, session), config, sleep
            )
            urls = urls[: config.max_per_position]
            for k, url in enumerate(urls):
                fname = f"{name}.fits" if config.max_per_position == 1 else f"{name}_{k}.fits"
                if not valid_fits(out / fname):
                    _retry(
                        f"download {url}",
                        lambda url=url, f=fname: download(url, out / f, config, session),
                        config,
                        sleep,
                    )
                entry["files"].append(fname)
                entry["urls"].append(url)
            entry["status"] = "done" if urls else "empty"
            (report.downloaded if urls else report.empty).append(name)
        except FetchError as exc:
            entry["error"] = str(exc)
            report.failed[name] = str(exc)
        entry["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        _append_manifest(out, entry)
    with atomic_path(out / "fetch.json") as tmp:
        tmp.write_text(json.dumps(dict(config=asdict(config), report=asdict(report)), indent=1))
    return report
