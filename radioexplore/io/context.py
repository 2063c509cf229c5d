"""Context from other surveys for a tile: links, HiPS cutouts (hips2fits) and a SIMBAD cone search.

Links (Aladin Lite on each survey's HiPS, the Legacy Survey viewer, SIMBAD, NED) need no network
here. Cutouts come from the CDS hips2fits service, the SIMBAD objects from SIMBAD's TAP service
(ADQL over HTTP, VOTable back); both are cached in a folder, so a tile seen once needs no
network again. Offline, or when a service does not answer, :class:`ContextUnavailable` says so
in one line and nothing else is affected. The service URLs are parameters (tests point them at
a local stand-in). Downloads go through :func:`radioexplore.io.fetch.download` (atomic, checked).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlparse

import pandas as pd

log = logging.getLogger(__name__)

#: Survey name -> HiPS id (CDS MocServer). VLASS's id is the one least sure to answer.
SURVEYS = {
    "NVSS": "CDS/P/NVSS",
    "VLASS": "CDS/P/VLASS/QL",
    "RACS": "CSIRO/P/RACS/low/I",
    "SUMSS": "CDS/P/SUMSS",
    "Legacy Survey": "CDS/P/DESI-Legacy-Surveys/DR10/color",
    "WISE": "CDS/P/allWISE/color",
}


class ContextUnavailable(RuntimeError):
    """A context service could not be reached (offline, or it failed); the message is one line."""


@dataclass(frozen=True)
class ContextConfig:
    """Where the context services are, and where their answers are cached."""

    cache_dir: str
    hips2fits_url: str = "https://alasky.cds.unistra.fr/hips-image-services/hips2fits"
    simbad_tap_url: str = "https://simbad.cds.unistra.fr/simbad/sim-tap/sync"
    timeout_s: float = 10.0
    cutout_px: int = 128


def links(ra: float, dec: float, fov_deg: float = 0.1) -> dict[str, str]:
    """Browser links for a position: each survey in Aladin Lite, the Legacy Survey viewer, SIMBAD and NED."""
    target = quote(f"{ra:.6f} {dec:+.6f}")
    out = {
        name: f"https://aladin.cds.unistra.fr/AladinLite/?target={target}&fov={fov_deg:g}&survey={quote(hips, safe='')}"
        for name, hips in SURVEYS.items()
    }
    out["Legacy Survey viewer"] = f"https://www.legacysurvey.org/viewer?ra={ra:.6f}&dec={dec:.6f}&layer=ls-dr10&zoom=14"
    radius = max(fov_deg * 30, 0.1)  # arcmin: half the field of view
    out["SIMBAD"] = "https://simbad.cds.unistra.fr/simbad/sim-coo?" + urlencode(
        {"Coord": f"{ra:.6f} {dec:+.6f}", "Radius": f"{radius:g}", "Radius.unit": "arcmin"}
    )
    out["NED"] = "https://ned.ipac.caltech.edu/conesearch?" + urlencode(
        {"search_type": "Near Position Search", "coordinates": f"{ra:.6f}d {dec:+.6f}d", "radius": f"{radius:g}"}
    )
    return out


def _cache_path(config: ContextConfig, kind: str, key: str, suffix: str) -> Path:
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return Path(config.cache_dir) / kind / f"{digest}{suffix}"


def _unavailable(what: str, url: str, exc: Exception) -> ContextUnavailable:
    host = urlparse(url).netloc or url
    return ContextUnavailable(f"{what} unavailable ({host} did not answer: {type(exc).__name__}); links still work")


def hips_cutout(survey: str, ra: float, dec: float, fov_deg: float, config: ContextConfig) -> Path:
    """A FITS cutout of ``survey`` (a key of :data:`SURVEYS` or a HiPS id) centred on the position, cached."""
    from radioexplore.io.fetch import FetchConfig, FetchError, download, valid_fits

    hips = SURVEYS.get(survey, survey)
    params = {
        "hips": hips,
        "ra": f"{ra:.6f}",
        "dec": f"{dec:.6f}",
        "fov": f"{fov_deg:g}",
        "width": config.cutout_px,
        "height": config.cutout_px,
        "projection": "SIN",
        "format": "fits",
    }
    url = f"{config.hips2fits_url}?{urlencode(params)}"
    path = _cache_path(config, "hips", url, ".fits")
    if path.is_file() and valid_fits(path):
        return path
    try:
        download(url, path, FetchConfig(service=config.hips2fits_url, timeout_s=config.timeout_s))
    except FetchError as exc:
        raise ContextUnavailable(f"{survey} cutout: {exc}") from None
    except OSError as exc:  # requests' connection errors and timeouts are OSErrors
        raise _unavailable(f"{survey} cutout", config.hips2fits_url, exc) from None
    return path


def simbad_cone(ra: float, dec: float, radius_arcmin: float, config: ContextConfig, top: int = 50) -> pd.DataFrame:
    """SIMBAD objects within ``radius_arcmin`` of the position (main_id, ra, dec, otype), nearest first; cached."""
    import requests
    from astropy.io.votable import parse_single_table

    query = (
        f"SELECT TOP {int(top)} main_id, ra, dec, otype, "
        f"DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', {ra:.6f}, {dec:.6f})) AS dist "
        f"FROM basic WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra:.6f}, {dec:.6f}, "
        f"{radius_arcmin / 60:.6f})) = 1 ORDER BY dist"
    )
    params = {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "votable", "QUERY": query}
    path = _cache_path(config, "simbad", config.simbad_tap_url + "?" + urlencode(params), ".xml")
    if not path.is_file():
        from radioexplore.run.atomic import atomic_path

        try:
            resp = requests.get(config.simbad_tap_url, params=params, timeout=config.timeout_s)
            resp.raise_for_status()
        except requests.RequestException as exc:
            raise _unavailable("SIMBAD", config.simbad_tap_url, exc) from None
        with atomic_path(path) as tmp:
            tmp.write_bytes(resp.content)
    try:
        table = parse_single_table(path).to_table()
    except Exception as exc:  # not a VOTable: an error page
        path.unlink(missing_ok=True)
        raise ContextUnavailable(f"SIMBAD answered something that is not a VOTable ({exc})") from None
    df = table.to_pandas()
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].map(lambda v: v.decode() if isinstance(v, bytes) else v)
    return df
