"""Ingest of a batch of malformed and odd FITS files beside good ones, in one CLI call (issue 18).

Every bad file must be named in the report with its reason, the good ones must ingest, and every
odd file that is accepted by design (other units, .fits.gz, tile compression, an extension HDU,
latitude-first or galactic axes, odd names) must come out with the right noise and sky positions.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from radioexplore.ingest.stamps import StampConfig, ingest_stamps
from radioexplore.io.fits import read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.run.rundir import RunDir
from tests.conftest import run_cli

N = 300  # image side in pixels
ODD = 256  # side of the odd files accepted by design that need no 300 px layout: 4 tiles each, fast
PIX_DEG = 1.5 / 3600.0
TILE = 128


@dataclass
class Case:
    """One file of the batch: what ingest must do with it."""

    path: Path
    outcome: str  # "ingest" or "fail"
    reason: str = ""  # regex the failure reason (or, for an ingested file, a warning naming it) must match
    sigma: float | None = None  # true noise rms in Jy/beam of an ingested file
    sky: object = None  # (x, y) -> SkyCoord of an ingested file's pixels, None for pixel-only
    side: int = N  # image side in pixels of an ingested file


def sky_header(ra: float, dec: float, n: int = N, bunit: str | None = "Jy/beam") -> fits.Header:
    """A SIN header centred on (ra, dec) with 1.5 arcsec pixels."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [n / 2 + 0.5, n / 2 + 0.5]
    w.wcs.cdelt = [-PIX_DEG, PIX_DEG]
    w.wcs.radesys = "ICRS"
    header = w.to_header()
    if bunit is not None:
        header["BUNIT"] = bunit
    header["BMAJ"], header["BMIN"], header["BPA"] = 6 / 3600, 6 / 3600, 0.0
    return header


def sky_image(rng: np.random.Generator, sigma: float, shape: tuple[int, int] = (N, N)) -> np.ndarray:
    """Gaussian noise of rms ``sigma`` plus four compact sources of 20-60 sigma."""
    ny, nx = shape
    data = rng.normal(0.0, sigma, size=shape)
    yy, xx = np.mgrid[0:ny, 0:nx]
    for _ in range(4):
        x, y = rng.uniform(0.1 * nx, 0.9 * nx), rng.uniform(0.1 * ny, 0.9 * ny)
        data += rng.uniform(20, 60) * sigma * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5**2))
    return data.astype(np.float32)


def truth_of(header: fits.Header):
    """Sky positions of pixels by astropy's high-level WCS (frame and axis order handled by SkyCoord)."""
    wcs = WCS(header).celestial
    return lambda x, y: wcs.pixel_to_world(x, y).icrs


def patch_cards(raw: bytes, cards: dict[str, str]) -> bytes:
    """``raw`` FITS bytes with PLACEHnn cards of the primary header replaced by ``KEY = value text``.

    Lets a test write what astropy will not: a string BSCALE, a non-integer BLANK, a CDELT of 'x'.
    """
    out = bytearray(raw)
    for i, (key, value) in enumerate(cards.items()):
        where = out.find(f"PLACEH{i:02d}=".encode())
        assert where >= 0 and where % 80 == 0, f"no placeholder card for {key}"
        out[where : where + 80] = f"{key:<8}= {value:>20}".ljust(80).encode("ascii")
    return bytes(out)


def write(path: Path, data, header: fits.Header | None = None, cards: dict[str, str] | None = None) -> Path:
    """A primary-HDU FITS file; ``cards`` are raw header values written over placeholders."""
    header = fits.Header() if header is None else header.copy()
    for i in range(len(cards or {})):
        header[f"PLACEH{i:02d}"] = 0
    hdu = fits.PrimaryHDU(data, header)
    hdu.writeto(path)
    if cards:
        path.write_bytes(patch_cards(path.read_bytes(), cards))
    return path


class Batch:
    """The files of the batch and what is expected of each."""

    def __init__(self, folder: Path, rng: np.random.Generator) -> None:
        self.folder, self.rng, self.cases = folder, rng, []
        self.n = 0

    def centre(self) -> tuple[float, float]:
        """A new field centre per file, so that no two files claim the same footprint."""
        self.n += 1
        return 150.0 + 0.3 * self.n, -30.0 + 0.2 * (self.n % 7)

    def good(
        self, name: str, sigma: float = 1e-4, scale: float = 1.0, bunit: str | None = "Jy/beam", n: int = ODD, **kw
    ) -> Case:
        """A good ``n`` px image written as ``scale`` times Jy/beam, with ``bunit``."""
        header = sky_header(*self.centre(), n=n, bunit=bunit)
        path = write(self.folder / name, sky_image(self.rng, sigma, (n, n)) * np.float32(scale), header)
        return self.add(path, "ingest", sigma=sigma, sky=truth_of(header), side=n, **kw)

    def fail(self, path: Path, reason: str) -> Case:
        return self.add(path, "fail", reason=reason)

    def add(self, path: Path, outcome: str, **kw) -> Case:
        case = Case(path, outcome, **kw)
        self.cases.append(case)
        return case

    def raw_good(self, sigma: float = 1e-4) -> tuple[np.ndarray, fits.Header]:
        """The pixels and header of a good 300 px image, for a test to write in its own way."""
        return sky_image(self.rng, sigma), sky_header(*self.centre())


def build_batch(folder: Path, rng: np.random.Generator) -> tuple[list[Case], list[Case]]:
    """Five good files and more than fifty malformed or odd ones."""
    b = Batch(folder, rng)
    good = [b.good(f"good_{i}.fits", sigma=s, n=N) for i, s in enumerate([5e-5, 8e-5, 1e-4, 1.5e-4, 2e-4])]
    b.cases.clear()
    d = folder

    # --- damaged files
    ref = write(d / "ref.fits.src", sky_image(rng, 1e-4), sky_header(10.0, 10.0)).read_bytes()
    for cut in (1000, 5000, len(ref) - 2880):
        (d / f"truncated_{cut}.fits").write_bytes(ref[:cut])
        b.fail(d / f"truncated_{cut}.fits", "truncated|not a readable FITS")
    for i in range(2):
        (d / f"zero_{i}.fits").write_bytes(b"")
        b.fail(d / f"zero_{i}.fits", "empty file")
    for i, size in enumerate((100, 2880, 50_000)):
        (d / f"random_{i}.fits").write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        b.fail(d / f"random_{i}.fits", "not a readable FITS")
    (d / "random_simple.fits").write_bytes(b"SIMPLE  =                    T" + rng.bytes(6000))
    b.fail(d / "random_simple.fits", "not a readable FITS|truncated|holds no image")
    (d / "header_only_2d.fits").write_bytes(ref[:2880])
    b.fail(d / "header_only_2d.fits", "truncated")
    write(d / "header_only_empty.fits", None, sky_header(1.0, 1.0))
    b.fail(d / "header_only_empty.fits", "holds no image")

    # --- pixel values
    data, header = b.raw_good()
    for name, fill in (("all_nan", np.nan), ("all_inf", np.inf), ("all_neg_inf", -np.inf)):
        write(d / f"{name}.fits", np.full((N, N), fill, np.float32), header)
        b.fail(d / f"{name}.fits", "no finite pixels")
    for name, fill in (("all_zero", 0.0), ("constant", 3.5)):
        write(d / f"{name}.fits", np.full((N, N), fill, np.float32), header)
        b.fail(d / f"{name}.fits", "constant image")
    write(d / "huge_values.fits", data * np.float32(1e8), header)
    b.fail(d / "huge_values.fits", "absurd")

    # --- shapes
    write(d / "one_d.fits", rng.normal(size=1000).astype(np.float32))
    b.fail(d / "one_d.fits", "holds no image")
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(rng.normal(size=500).astype(np.float32))]).writeto(
        d / "one_d_ext.fits"
    )
    b.fail(d / "one_d_ext.fits", "holds no image")
    write(d / "one_row.fits", rng.normal(size=(1, 500)).astype(np.float32), sky_header(2.0, 2.0, n=500))
    b.fail(d / "one_row.fits", "holds no image")
    for name, shape in (("tiny_20.fits", (20, 20)), ("tiny_50.fits", (50, 50)), ("thin_2x100000.fits", (2, 100_000))):
        write(d / name, sky_image(rng, 1e-4, shape), sky_header(*b.centre(), n=shape[1]))
        b.fail(d / name, "less than half a 128 px tile")
    write(d / "tall_100000x2.fits", rng.normal(0, 1e-4, (100_000, 2)).astype(np.float32), sky_header(3.0, 3.0, n=2))
    b.fail(d / "tall_100000x2.fits", "less than half a 128 px tile")
    small, header = sky_image(rng, 1e-4, (100, 100)), sky_header(*b.centre(), n=100)
    write(d / "small_100.fits", small, header)
    b.add(
        d / "small_100.fits", "ingest", reason="narrower than a 128 px tile", sigma=1e-4, sky=truth_of(header), side=100
    )
    data, header = b.raw_good(1e-4)
    header5 = header.copy()
    for axis, ctype in ((3, "FREQ"), (4, "STOKES"), (5, "TIME")):
        header5[f"CTYPE{axis}"], header5[f"CRVAL{axis}"], header5[f"CDELT{axis}"], header5[f"CRPIX{axis}"] = (
            ctype,
            1.0,
            1.0,
            1.0,
        )
    write(d / "five_d_degenerate.fits", data.reshape(1, 1, 1, N, N), header5)
    b.add(d / "five_d_degenerate.fits", "ingest", sigma=1e-4, sky=truth_of(header5))
    cube = np.stack([data * np.float32(1 + 9 * k) for k in range(6)]).reshape(1, 2, 3, N, N)  # plane 0 is data
    header5["CRVAL1"] += 1.0  # another field: not the same footprint as the file above
    write(d / "five_d_cube.fits", cube, header5)
    b.add(d / "five_d_cube.fits", "ingest", reason="planes; using the first", sigma=1e-4, sky=truth_of(header5))

    # --- header keywords
    stored = np.round(sky_image(rng, 1.0) * 50).astype(np.int16)  # noise of 50 counts
    for name, cards, reason in (
        ("bscale_string", {"BSCALE": "'abc'"}, "BSCALE = 'abc' is not a finite number"),
        ("bscale_empty", {"BSCALE": "''"}, "BSCALE = '' is not a finite number"),
        ("bzero_string", {"BZERO": "'x'"}, "BZERO = 'x' is not a finite number"),
        ("blank_string", {"BLANK": "'x'"}, "BLANK = 'x' is not an integer"),
        ("blank_float", {"BLANK": "1.5"}, "BLANK = 1.5 is not an integer"),
        ("bscale_huge", {"BSCALE": "1.0E+36"}, "absurd"),
        ("bscale_big", {"BSCALE": "1.0E+03"}, "absurd"),
        ("bscale_zero", {"BSCALE": "0.0"}, "BSCALE = 0"),
    ):
        write(d / f"{name}.fits", stored, sky_header(*b.centre()), cards)
        b.fail(d / f"{name}.fits", reason)
    header = sky_header(*b.centre())
    write(d / "int16_scaled.fits", stored, header, {"BSCALE": "2.0E-06", "BLANK": "-32768"})
    b.add(d / "int16_scaled.fits", "ingest", sigma=1e-4, sky=truth_of(header))  # 50 counts x 2e-6
    for name, key, value in (
        ("cdelt1_string", "CDELT1", "'x'"),
        ("cdelt2_string", "CDELT2", "'x'"),
        ("crval1_string", "CRVAL1", "'x'"),
        ("crval2_string", "CRVAL2", "'abc'"),
        ("crpix1_string", "CRPIX1", "'1O0'"),
        ("cd1_1_string", "CD1_1", "'-4E-4'"),
    ):
        header = sky_header(*b.centre())
        header.remove(key, ignore_missing=True)
        write(d / f"{name}.fits", sky_image(rng, 1e-4), header, {key: value})
        b.fail(d / f"{name}.fits", f"{key} = {value} is not a finite number")
    for name, dec in (("dec_150", 150.0), ("dec_minus_95", -95.0)):
        header = sky_header(150.0, 0.0)
        header["CRVAL2"] = dec
        write(d / f"{name}.fits", sky_image(rng, 1e-4), header)
        b.fail(d / f"{name}.fits", r"\|Dec\| > 90")

    # --- axes and frames accepted by design: positions must be right
    for i in range(2):
        data, header = b.raw_good(1e-4)
        swapped = header.copy()
        for key in ("CTYPE", "CRVAL", "CDELT", "CRPIX", "CUNIT"):
            swapped[f"{key}1"], swapped[f"{key}2"] = header[f"{key}2"], header[f"{key}1"]
        original = truth_of(header)
        write(d / f"latitude_first_{i}.fits", np.ascontiguousarray(data.T), swapped)
        # pixel (x, y) of the transposed image is pixel (y, x) of the original
        b.add(d / f"latitude_first_{i}.fits", "ingest", sigma=1e-4, sky=lambda x, y, o=original: o(y, x))
    data, header = b.raw_good(1e-4)
    centre = SkyCoord(header["CRVAL1"], header["CRVAL2"], unit="deg").galactic
    galactic = header.copy()
    galactic["CTYPE1"], galactic["CTYPE2"] = "GLON-SIN", "GLAT-SIN"
    galactic["CRVAL1"], galactic["CRVAL2"] = centre.l.deg, centre.b.deg
    for key in ("RADESYS", "LONPOLE", "LATPOLE"):
        galactic.remove(key, ignore_missing=True)
    write(d / "galactic.fits", data, galactic)
    b.add(d / "galactic.fits", "ingest", sigma=1e-4, sky=truth_of(galactic))
    for name, ctypes in (("linear_axes.fits", ("LINEAR", "LINEAR")), ("freq_time_axes.fits", ("FREQ", "TIME"))):
        data, header = b.raw_good(1e-4)
        header["CTYPE1"], header["CTYPE2"] = ctypes
        write(d / name, data, header)
        b.add(d / name, "ingest", reason="pixel-only mode", sigma=1e-4)
    data, header = b.raw_good(1e-4)
    for key in ("CDELT1", "CDELT2"):
        header.remove(key)
    write(d / "cdelt_missing.fits", data, header)
    b.add(d / "cdelt_missing.fits", "ingest", reason="pixel scale is unknown", sigma=1e-4)
    data, _ = b.raw_good(1e-4)
    write(d / "no_wcs.fits", data, fits.Header({"BUNIT": "JY/BEAM"}))
    b.add(d / "no_wcs.fits", "ingest", reason="no celestial WCS; ingesting in pixel-only mode", sigma=1e-4)

    # --- units
    for name, scale, bunit in (
        ("mjy_1.fits", 1e3, "mJy/beam"),
        ("mjy_2.fits", 1e3, "MJY/BEAM"),
        ("mjy_3.fits", 1e3, "mJy/bm"),
        ("ujy_1.fits", 1e6, "uJy/beam"),
        ("ujy_2.fits", 1e6, "microJy/beam"),
        ("ujy_3.fits", 1e6, "UJY/BEAM"),
    ):
        b.good(name, scale=scale, bunit=bunit, reason="converted to Jy/beam")
    b.good("jy_beam_minus_1.fits", bunit="Jy beam-1")
    b.good("no_bunit.fits", bunit=None, reason="no BUNIT")
    for name, bunit, reason in (
        ("kelvin.fits", "K", "brightness temperature"),
        ("millikelvin.fits", "mK", "brightness temperature"),
        ("jy_per_pixel.fits", "Jy/pixel", "is not Jy/beam"),
        ("counts.fits", "COUNTS", "is not Jy/beam"),
    ):
        write(d / name, sky_image(rng, 1e-4), sky_header(*b.centre(), bunit=bunit))
        b.fail(d / name, reason)

    # --- containers: extensions, tables, tile compression, gzip
    for i in range(2):
        data, header = b.raw_good(1e-4)
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header)]).writeto(d / f"extension_{i}.fits")
        b.add(d / f"extension_{i}.fits", "ingest", sigma=1e-4, sky=truth_of(header))
    table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.ones(10))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(d / "table_only.fits")
    b.fail(d / "table_only.fits", "holds no image")
    fits.HDUList([fits.PrimaryHDU(), table.copy(), table.copy()]).writeto(d / "two_tables.fits")
    b.fail(d / "two_tables.fits", "holds no image")
    fits.PrimaryHDU().writeto(d / "empty_primary.fits")
    b.fail(d / "empty_primary.fits", "holds no image")
    compressed = {}
    for kind in ("RICE_1", "GZIP_2", "GZIP_1"):
        data, header = b.raw_good(1e-4)
        path = d / f"compressed_{kind.lower()}.fits"
        hdu = fits.CompImageHDU(data, header, compression_type=kind, quantize_level=64)
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
        compressed[kind] = path.read_bytes()
        b.add(path, "ingest", sigma=1e-4, sky=truth_of(header))
    for kind, cut in (("RICE_1", 0.5), ("GZIP_2", 0.8)):
        raw = compressed[kind]
        path = d / f"compressed_truncated_{kind.lower()}.fits"
        path.write_bytes(raw[: int(len(raw) * cut)])
        b.fail(path, "truncated|cannot be read")
    (d / "compressed_damaged.fits").write_bytes(damage(compressed["GZIP_1"], rng, 4000))
    b.fail(d / "compressed_damaged.fits", "cannot be read")
    for i in range(2):
        data, header = b.raw_good(1e-4)
        write(d / f"plain_{i}.fits.src", data, header)
        (d / f"gzipped_{i}.fits.gz").write_bytes(gzip.compress((d / f"plain_{i}.fits.src").read_bytes()))
        b.add(d / f"gzipped_{i}.fits.gz", "ingest", sigma=1e-4, sky=truth_of(header))
    gz = gzip.compress(ref)
    (d / "gzipped_truncated.fits.gz").write_bytes(gz[: len(gz) // 2])
    b.fail(d / "gzipped_truncated.fits.gz", "not a readable FITS|cannot be read")

    # --- the file system
    (d / "loop_a.fits").symlink_to(d / "loop_b.fits")
    (d / "loop_b.fits").symlink_to(d / "loop_a.fits")
    (d / "self_loop.fits").symlink_to(d / "self_loop.fits")
    for name in ("loop_a.fits", "loop_b.fits", "self_loop.fits"):
        b.fail(d / name, "symbolic link loop")
    (d / "dangling.fits").symlink_to(d / "nowhere.fits")
    b.fail(d / "dangling.fits", "broken symbolic link")
    (d / "folder.fits").mkdir()
    b.fail(d / "folder.fits", "is a folder")
    b.fail(d / "missing.fits", "no such file")
    locked = b.good("locked.fits")
    locked.path.chmod(0)
    if not os.access(locked.path, os.R_OK):  # as root the file stays readable and ingests
        b.cases[-1] = Case(locked.path, "fail", reason="permission denied")
    for name in ("champ étoilé.fits", "領域 3.fits", "my field 1.fits", " leading space.fits"):
        b.good(name)
    return good, b.cases


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    good, odd = build_batch(folder, np.random.default_rng(18))
    run = folder / "run"
    files = [c.path for c in good + odd]
    proc = run_cli("ingest", *files, "--run", run, "--tile", str(TILE), check=False)
    return good, odd, RunDir(run), proc


def test_the_batch_is_big_enough(fuzzed):
    good, odd, _, _ = fuzzed
    assert len(good) == 5 and len(odd) >= 50
    assert sum(c.outcome == "fail" for c in odd) >= 40


def test_every_bad_file_is_named_with_its_reason_and_the_command_succeeds(fuzzed):
    good, odd, run, proc = fuzzed
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(run.ingest_report.read_text())
    failed, ingested = report["failed"], set(report["ingested"])
    for case in odd:
        name = str(case.path)
        if case.outcome == "fail":
            assert name in failed, f"{case.path.name} was not refused"
            assert re.search(case.reason, failed[name], flags=re.I), f"{case.path.name}: {failed[name]}"
            assert f"FAILED {name}: " in proc.stdout
        else:
            assert name not in failed, f"{case.path.name} was refused: {failed.get(name)}"
            assert name in ingested
    assert set(failed) == {str(c.path) for c in odd if c.outcome == "fail"}
    assert ingested == {str(c.path) for c in good + odd if c.outcome == "ingest"}


def test_accepted_odd_files_are_named_where_they_were_changed(fuzzed):
    _, odd, run, proc = fuzzed
    warnings = json.loads(run.ingest_report.read_text())["warnings"]
    for case in odd:
        if case.outcome == "ingest" and case.reason:
            said = [w for w in warnings if w.startswith(f"{case.path.name}: ")]
            assert any(re.search(case.reason, w) for w in said), f"{case.path.name}: {said}"
            assert any(f"warning: {w}" in proc.stdout for w in said)


def test_good_and_accepted_files_have_the_right_noise_and_positions(fuzzed):
    good, odd, run, _ = fuzzed
    tiles = run.read_tiles()
    assert set(tiles["file"]) == {str(c.path.resolve()) for c in good + odd if c.outcome == "ingest"}
    assert (tiles["bunit"].str.upper().isin(["JY/BEAM", "JY BEAM-1", ""])).all()
    for case in good + odd:
        if case.outcome != "ingest":
            continue
        mine = tiles[tiles["file"] == str(case.path.resolve())]
        assert len(mine) == int(np.ceil(case.side / TILE)) ** 2, case.path.name
        ratio = mine["noise_rms"] / case.sigma
        assert abs(ratio.median() - 1) < 0.1 and ratio.between(0.75, 1.3).all(), (case.path.name, list(ratio))
        if case.sky is None:
            assert mine["ra"].isna().all() and mine["dec"].isna().all(), case.path.name
            continue
        centre = (mine["x0"] + (mine["size"] - 1) / 2).to_numpy(), (mine["y0"] + (mine["size"] - 1) / 2).to_numpy()
        truth = case.sky(*centre)
        got = SkyCoord(mine["ra"].to_numpy(), mine["dec"].to_numpy(), unit="deg")
        offset = got.separation(truth).arcsec
        assert (offset < 0.05).all(), (case.path.name, offset.max())


def test_good_files_keep_their_field_names(fuzzed):
    good, odd, run, _ = fuzzed
    fields = set(run.read_tiles()["field"])
    assert {f"good_{i}" for i in range(5)} | {"gzipped_0", "champ étoilé", "領域 3", " leading space"} <= fields


def test_nothing_ingested_is_one_line_and_non_zero(tmp_path, cli_main):
    (tmp_path / "a.fits").write_bytes(b"")
    (tmp_path / "b.fits").write_bytes(b"not fits at all")
    code, out, err = cli_main(
        "ingest", tmp_path / "a.fits", tmp_path / "b.fits", "--run", tmp_path / "run", check=False
    )
    assert code != 0 and "Traceback" not in err
    assert err.strip() == "error: no image could be ingested: all 2 file(s) failed (reasons listed above)"
    assert f"FAILED {tmp_path / 'a.fits'}: empty file" in out and f"FAILED {tmp_path / 'b.fits'}: not a readable" in out
    assert not (tmp_path / "run" / "tiles.parquet").exists()


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    """Tests run as root, where chmod 000 still reads: what os.access says is what counts."""
    path = write(tmp_path / "locked.fits", np.ones((8, 8), np.float32))
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != path)
    with pytest.raises(FitsReadError, match="locked.fits: not readable"):
        read_image(path)


def damage(raw: bytes, rng: np.random.Generator, size: int) -> bytes:
    """``raw`` with ``size`` random bytes written over its middle (a damaged heap; the length is intact)."""
    out = bytearray(raw)
    out[len(out) // 2 : len(out) // 2 + size] = rng.bytes(size)
    return bytes(out)


def test_stamps_ingest_names_each_bad_fits_stamp_and_converts_units(tmp_path):
    rng = np.random.default_rng(5)
    folder = tmp_path / "stamps"
    folder.mkdir()
    shape = (64, 64)
    write(folder / "good.fits", sky_image(rng, 1e-4, shape), sky_header(150.0, 2.0, n=64))
    write(folder / "milli.fits", sky_image(rng, 1e-4, shape) * 1e3, sky_header(151.0, 2.0, n=64, bunit="mJy/beam"))
    write(folder / "kelvin.fits", sky_image(rng, 1e-4, shape), sky_header(152.0, 2.0, n=64, bunit="K"))
    stored = np.round(sky_image(rng, 50.0, shape)).astype(np.int16)
    write(folder / "bscale.fits", stored, sky_header(153.0, 2.0, n=64), {"BSCALE": "'abc'"})
    hdu = fits.CompImageHDU(sky_image(rng, 1e-4, (256, 256)), sky_header(154.0, 2.0, n=256), compression_type="GZIP_1")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "compressed.fits")
    (folder / "damaged.fits").write_bytes(damage((tmp_path / "compressed.fits").read_bytes(), rng, 4000))
    (folder / "empty.fits").write_bytes(b"")
    report = ingest_stamps(folder, RunDir(tmp_path / "run"), StampConfig(tile_px=64), progress=False)
    assert sorted(Path(p).name for p in report.ingested) == ["good.fits", "milli.fits"]
    reasons = {Path(p).name: why for p, why in report.failed.items()}
    assert set(reasons) == {"kelvin.fits", "bscale.fits", "damaged.fits", "empty.fits"}
    assert "brightness temperature" in reasons["kelvin.fits"]
    assert "BSCALE = 'abc' is not a finite number" in reasons["bscale.fits"]
    assert "cannot be read" in reasons["damaged.fits"] and "empty file" in reasons["empty.fits"]
    tiles = RunDir(tmp_path / "run").read_tiles().set_index("field")
    assert abs(tiles.loc["milli", "noise_rms"] / 1e-4 - 1) < 0.2 and tiles.loc["milli", "bunit"] == "JY/BEAM"
    assert abs(tiles.loc["good", "dec"] - 2.0) < 0.01 and abs(tiles.loc["good", "ra"] - 150.0) < 0.01
