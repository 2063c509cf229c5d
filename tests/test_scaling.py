import numpy as np
import pytest

from radioexplore.ingest.scaling import SCALERS, make_scaler


def _field(rng):
    noise = rng.normal(0, 1e-5, (256, 256)).astype(np.float32)
    noise[100:104, 100:104] += 1e-2  # a bright source
    noise[:10] = np.nan  # a blanked border
    return noise


def test_contrast_stretch_uses_field_percentiles(rng):
    field = _field(rng)
    finite = field[np.isfinite(field)]
    scaler = make_scaler("contrast")
    state = scaler.fit(finite)
    assert state["lo"] == pytest.approx(np.percentile(finite, 2))
    assert state["hi"] == pytest.approx(np.percentile(finite, 98))
    out = scaler.apply(field, state)
    assert out.shape == (1, 256, 256) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.all(out[0, :10] == 0.0)  # NaN becomes 0
    assert np.mean(out[0, 10:] >= 1.0) == pytest.approx(0.02, abs=0.01)  # top 2 % saturate


def test_scaling_is_per_field_not_per_crop(rng):
    """A faint crop keeps its low values: it is stretched with the field's limits, not its own."""
    field = _field(rng)
    scaler = make_scaler("contrast")
    state = scaler.fit(field[np.isfinite(field)])
    faint = field[150:200, 150:200] * 0.1
    assert scaler.apply(faint, state).max() < 0.8


@pytest.mark.parametrize("name", sorted(SCALERS))
def test_every_scaler_maps_to_unit_interval(name, rng):
    field = _field(rng)
    scaler = make_scaler(name)
    out = scaler.apply(field, scaler.fit(field[np.isfinite(field)]))
    assert out.shape == (scaler.channels, 256, 256)
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


def test_three_channel_follows_seed_002(rng):
    scaler = make_scaler("three_channel")
    assert (scaler.sigma_low, scaler.sigma_high, scaler.contrasts) == (5.0, 30.0, (0.25, 0.4))
    sky = rng.normal(0, 1e-5, 100_000) + rng.pareto(1.5, 100_000) * 2e-6  # noise plus a source tail
    state = scaler.fit(sky.astype(np.float32))
    # zscale with a higher contrast gives a narrower window
    assert (state["z1_hi"] - state["z1_lo"]) < (state["z0_hi"] - state["z0_lo"])


def test_unknown_scaler_names_the_choices():
    with pytest.raises(ValueError, match="contrast"):
        make_scaler("histeq")
