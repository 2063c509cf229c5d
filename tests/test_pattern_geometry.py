"""Artefact evidence from the geometry of a bright source's error pattern (ranking/pattern_geometry.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.ranking.active_features import teach_block
from radioexplore.ranking.objects import find_objects
from radioexplore.ranking.pattern_geometry import (
    object_pattern_evidence,
    orientation_likelihood_ratio,
    tile_pattern_evidence,
)

BEAM = 5.0
SOURCE = (200.0, 200.0)


def _field() -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """A bright source with tangential ripple arcs round it, a full ripple ring on it, an elongated real
    source beside it at 45 degrees to the direction from the source, and a ring centred away from it."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:400, 0:400].astype(float)
    img = rng.normal(0.0, 1.0, (400, 400))
    sx, sy = SOURCE
    r = np.hypot(xx - sx, yy - sy)
    az = np.degrees(np.arctan2(yy - sy, xx - sx))
    img += 2000.0 * np.exp(-0.5 * r**2 / (BEAM / 2.355) ** 2)
    img += 30.0 * np.exp(-0.5 * ((r - 35.0) / 2.0) ** 2)  # a whole ring concentric on the source
    arcs = {}
    for centre in (30.0, 120.0, 210.0, 300.0):  # crests 30 degrees long at 90 px: tangential
        dphi = (az - centre + 180.0) % 360.0 - 180.0
        img += 30.0 * np.exp(-0.5 * ((r - 90.0) / 2.0) ** 2) * (np.abs(dphi) < 15.0)
        arcs[f"arc{centre:g}"] = (sx + 90.0 * np.cos(np.radians(centre)), sy + 90.0 * np.sin(np.radians(centre)))
    # a real elongated source beside it (a jet-like Gaussian 4:1) at 45 degrees to the radial direction
    gx, gy = sx + 150.0 * np.cos(np.radians(60.0)), sy + 150.0 * np.sin(np.radians(60.0))
    a = np.radians(105.0)  # its major axis; the direction from the source: 60 degrees
    u = (xx - gx) * np.cos(a) + (yy - gy) * np.sin(a)
    v = -(xx - gx) * np.sin(a) + (yy - gy) * np.cos(a)
    img += 40.0 * np.exp(-0.5 * ((u / 10.0) ** 2 + (v / 2.5) ** 2))
    # a ring centred away from the source
    rr = np.hypot(xx - 60.0, yy - 330.0)
    img += 30.0 * np.exp(-0.5 * ((rr - 18.0) / 2.0) ** 2)
    where = dict(arcs, real=(gx, gy), ring_off=(60.0, 330.0))
    return img.astype(np.float32), where


def _nearest(objects: pd.DataFrame, xy: tuple[float, float]) -> int:
    return int(np.argmin(np.hypot(objects["x"] - xy[0], objects["y"] - xy[1])))


def test_likelihood_ratio_is_one_for_round_islands_and_peaks_radial_or_tangential() -> None:
    assert np.allclose(orientation_likelihood_ratio(np.array([0.0, 30.0, 45.0, 90.0]), np.ones(4)), 1.0)
    lr = orientation_likelihood_ratio(np.array([0.0, 45.0, 90.0]), np.full(3, 3.0))
    assert lr[0] > 1 and lr[2] > 1 and lr[1] < 1
    # a random orientation averages below 1 in log: a real source beside a bright one leans to sky
    psi = np.linspace(0.0, 90.0, 901)
    assert np.mean(np.log(orientation_likelihood_ratio(psi, np.full_like(psi, 3.0)))) < 0


def test_arcs_round_a_source_read_as_pattern_a_source_beside_it_does_not() -> None:
    img, where = _field()
    objects = find_objects(img, 1.1331 * BEAM**2).table
    objects["field"] = "f"
    sources = {"f": np.array([[SOURCE[0], SOURCE[1], 2000.0, BEAM]])}
    ev = object_pattern_evidence(objects, sources)
    for name in ("arc30", "arc120", "arc210", "arc300"):
        assert ev[_nearest(objects, where[name])] > 0.3, name
    assert ev[_nearest(objects, where["real"])] < 0.0
    # a ring concentric on the source is a ripple ring; one centred elsewhere is not
    on_source = np.hypot(objects["x"] - SOURCE[0], objects["y"] - SOURCE[1]).to_numpy() < BEAM
    ring = on_source & (objects["hole_fraction"].to_numpy() > 0.2)
    assert ring.sum() == 1 and ev[ring][0] > 0.5
    assert abs(ev[_nearest(objects, where["ring_off"])]) < 0.2
    # the bright source's own island: no direction to it, no evidence
    core = on_source & ~ring
    assert core.sum() == 1 and ev[core][0] == 0.0
    # without a bright source in the field, nothing
    assert np.all(object_pattern_evidence(objects, {}) == 0.0)


def test_tile_evidence_is_the_top_objects_and_joins_the_labels_block() -> None:
    objects = pd.DataFrame(
        {
            "field": ["f", "f", "g"],
            "tile_ids": [[0], [0, 1], [2]],
            "x": [290.0, 200.0, 10.0],
            "y": [200.0, 260.0, 10.0],
            "axis_ratio": [5.0, 5.0, 5.0],
            "axis_angle_deg": [90.0, 45.0, 0.0],  # tangential; at 45 deg to radial; a field without sources
            "hole_fraction": [0.0, 0.0, 0.0],
            "filled_beams": [4.0, 4.0, 4.0],
            "extent_beams": [4.0, 4.0, 4.0],
            "score": [0.9, 0.5, 0.9],
        }
    )
    scores = pd.DataFrame(
        {
            "tile_id": [0, 1, 2, 3],
            "artefact_bright_x": [200.0, 200.0, np.nan, np.nan],
            "artefact_bright_y": [200.0, 200.0, np.nan, np.nan],
            "artefact_bright_snr": [1000.0] * 4,
            "artefact_local_sigma": [1e-5] * 4,
            "artefact_beam_px": [BEAM] * 4,
            "artefact_score": [0.1] * 4,
        }
    )
    fields = np.array(["f", "f", "g", "g"])
    ev = tile_pattern_evidence(objects, scores, fields)
    assert ev[0] > 0.5  # its top object (score 0.9) is a tangential crest
    assert ev[1] < 0.0  # only the object at 45 degrees
    assert ev[2] == 0.0 and ev[3] == 0.0  # no bright source / no object
    block = teach_block(scores, pattern=ev)
    assert block.shape == (4, 7) and np.allclose(block[:, -1], ev)
    assert teach_block(scores).shape == (4, 6)


def test_a_tiles_ripple_names_the_source_its_rings_are_centred_on() -> None:
    """Rings concentric on a fainter, nearer source: the level rule names the brighter, farther one, the
    ripple's direction (``ArtefactConfig.source_by_ripple``) the one the rings are centred on."""
    from radioexplore.ranking.artefacts import ArtefactConfig, field_artefact_features

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:1024, 0:1024].astype(np.float32)
    img = rng.normal(0.0, 1.0, (1024, 1024)).astype(np.float32)
    far, near = (100.0, 100.0, 1e5), (900.0, 100.0, 2e4)
    for x, y, peak in (far, near):
        img += peak * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / (BEAM / 2.355) ** 2)
    # rings on the nearer one, below the 5 sigma at which the ripple measure masks emission
    img += 3.0 * np.cos(2 * np.pi * np.hypot(xx - near[0], yy - near[1]) / 8.0)
    boxes = pd.DataFrame({"x0": [640], "y0": [256], "size": [128]})
    plain = field_artefact_features(img, boxes, BEAM, sigma=1.0)
    assert (plain["bright_x"].iloc[0], plain["bright_y"].iloc[0]) == (far[0], far[1])
    by_ripple = field_artefact_features(img, boxes, BEAM, sigma=1.0, config=ArtefactConfig(source_by_ripple=True))
    assert (by_ripple["bright_x"].iloc[0], by_ripple["bright_y"].iloc[0]) == (near[0], near[1])
    assert by_ripple["ripple_sigma"].iloc[0] > 5 and by_ripple["ripple_sigma"].iloc[0] == plain["ripple_sigma"].iloc[0]
