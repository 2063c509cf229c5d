"""Reading real-world FITS: 2-4 axes, BSCALE/BZERO/BLANK, memory maps, missing or broken WCS."""

import tracemalloc
import warnings

import numpy as np
import pytest
from astropy.io import fits

from radioexplore.ingest.images import IngestConfig, ingest
from radioexplore.io.fits import FitsImage, read_image
from radioexplore.io.fits_checks import FitsReadError
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.instrument import field_wcs


def write_image(path, data, naxis=2, wcs=True, **keywords):
    header = field_wcs(150.0, 2.0, data.shape[-1], 1.5).to_header() if wcs else fits.Header()
    if naxis >= 3:
        header["CTYPE3"], header["CRVAL3"], header["CDELT3"], header["CRPIX3"] = "FREQ", 1.28e9, 1e6, 1.0
    if naxis == 4:
        header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"] = "STOKES", 1.0, 1.0, 1.0
    hdu = fits.PrimaryHDU(data=data.reshape((1,) * (naxis - 2) + data.shape), header=header)
    for k, v in keywords.items():
        hdu.header[k] = v
    hdu.writeto(path)
    return path


@pytest.mark.parametrize("naxis", [2, 3, 4])
def test_degenerate_axes_are_dropped(tmp_path, naxis):
    data = np.arange(64 * 48, dtype=np.float32).reshape(48, 64)
    image = read_image(write_image(tmp_path / "im.fits", data, naxis=naxis, BUNIT="JY/BEAM"))
    assert image.shape == (48, 64) and image.bunit == "JY/BEAM"
    assert np.array_equal(image.read_box(10, 5, 8), data[5:13, 10:18])
    assert image.wcs is not None and image.wcs.naxis == 2
    ra, dec = image.pixel_to_world(np.array([31.5]), np.array([23.5]))
    assert abs(ra[0] - 150.0) < 0.01 and abs(dec[0] - 2.0) < 0.01


def test_a_real_cube_takes_the_first_plane_with_a_warning(tmp_path):
    cube = np.stack([np.full((16, 16), i, np.float32) for i in range(3)])
    hdu = fits.PrimaryHDU(cube)
    hdu.header["CTYPE3"] = "FREQ"
    hdu.writeto(tmp_path / "cube.fits")
    image = read_image(tmp_path / "cube.fits")
    assert np.all(image.read() == 0) and any("3 planes" in w for w in image.warnings)


def test_bscale_bzero_and_blank_give_physical_values_and_nan(tmp_path):
    stored = np.arange(-100, 100, dtype=np.int16).reshape(10, 20)
    stored[0, 0] = -32768
    path = write_image(tmp_path / "int16.fits", stored)
    with fits.open(path, mode="update") as hdul:  # rewrite with scaling keywords on the raw integers
        hdul[0].header["BSCALE"], hdul[0].header["BZERO"], hdul[0].header["BLANK"] = 2e-6, 1e-4, -32768
    image = read_image(path)
    values = image.read()
    assert np.isnan(values[0, 0])
    assert np.allclose(values[0, 1:], stored[0, 1:] * 2e-6 + 1e-4, rtol=1e-6)
    assert on_disk(image._raw())


def on_disk(array) -> bool:
    """Whether an array is a view of a memory-mapped file (astropy keeps an mmap at the base)."""
    import mmap

    base = array
    while base is not None:
        if isinstance(base, mmap.mmap | np.memmap):
            return True
        base = getattr(base, "base", None)
    return False


def test_a_big_int16_image_ingests_box_by_box_from_a_memory_map(tmp_path, monkeypatch):
    """The pixels stay on disk: ingest never reads the whole image and its memory stays far below it."""
    n = 3072
    rng = np.random.default_rng(0)
    stored = np.round(rng.normal(0, 1000, size=(n, n))).astype(np.int16)
    path = tmp_path / "big.fits"
    hdu = fits.PrimaryHDU(stored, header=field_wcs(30.0, -30.0, n, 1.5).to_header())
    hdu.header["BSCALE"], hdu.header["BZERO"], hdu.header["BUNIT"] = 1e-6, 0.0, "JY/BEAM"
    hdu.writeto(path)
    del stored, hdu
    full_float = n * n * 4  # what reading it whole as float32 would take

    def refuse(self):
        raise AssertionError("ingest read the whole image")

    monkeypatch.setattr(FitsImage, "read", refuse)
    assert on_disk(read_image(path)._raw())
    tracemalloc.start()
    ingest([path], RunDir(tmp_path / "run"), IngestConfig(tile_px=256, detect=False), progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory {peak / 1e6:.1f} MB for a {full_float / 1e6:.0f} MB float32 image")
    assert peak < 0.5 * full_float, f"ingest held {peak / 1e6:.0f} MB for a {full_float / 1e6:.0f} MB image"
    tiles = RunDir(tmp_path / "run").read_tiles()
    assert len(tiles) == 144 and tiles["noise_rms"].between(0.95e-3, 1.05e-3).all()  # BSCALE applied


def test_missing_wcs_gives_pixel_only_mode_with_a_warning(tmp_path):
    image = read_image(write_image(tmp_path / "nowcs.fits", np.ones((32, 32), np.float32), wcs=False))
    assert image.wcs is None and any("pixel-only" in w for w in image.warnings)
    ra, dec = image.pixel_to_world(np.array([1.0]), np.array([1.0]))
    assert np.isnan(ra).all() and np.isnan(dec).all()
    with pytest.raises(FitsReadError, match="no usable WCS"):
        image.world_to_pixel(np.array([1.0]), np.array([1.0]))


def test_broken_wcs_gives_pixel_only_mode_with_a_warning(tmp_path):
    path = write_image(tmp_path / "broken.fits", np.ones((32, 32), np.float32))
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["CTYPE1"] = "RA---XYZ"  # no such projection
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = read_image(path)
    assert image.wcs is None and any("broken.fits" in w and "pixel-only" in w for w in image.warnings)


def test_unreadable_files_raise_with_the_file_name(tmp_path):
    with pytest.raises(FitsReadError, match="nothere.fits: no such file"):
        read_image(tmp_path / "nothere.fits")
    (tmp_path / "text.fits").write_text("SIMPLE = nonsense")
    with pytest.raises(FitsReadError, match="text.fits"):
        read_image(tmp_path / "text.fits")
    good = write_image(tmp_path / "good.fits", np.zeros((64, 64), np.float32))
    (tmp_path / "cut.fits").write_bytes(good.read_bytes()[:5000])
    with pytest.raises(FitsReadError, match="cut.fits: truncated"):
        read_image(tmp_path / "cut.fits")
    hdu = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.zeros(3))])
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp_path / "table.fits")
    with pytest.raises(FitsReadError, match="table.fits: holds no image"):
        read_image(tmp_path / "table.fits")
