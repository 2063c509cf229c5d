"""Extended and peculiar radio morphologies drawn onto a Jy/pixel model sky (before the restoring beam).

Every renderer has the signature ``render(sky, rng, x, y, size_px, amplitude, beam_px, **extra)``
and returns the object's key points ``[(x, y), ...]`` (core, hotspots, lobe or arc ends): the
truth table uses them to say which tiles contain the object, so that a giant radio galaxy whose
lobes lie three tiles apart is found in each of them.

``amplitude`` is the total flux density in Jy for radio galaxies (``fr1``, ``fr2``, ``bent``,
``xrg``, ``grg``) and the peak surface brightness in Jy/beam for diffuse emission (``halo``,
``relic``, ``filament``, ``orc``), which is how such objects are described in the literature and
what decides whether they are visible above the noise. ``beam_px`` is the restoring beam FWHM in
pixels.

Shapes follow the standard descriptions: FR I jets brightest near the core and widening into
plumes, FR II lobes with edge-brightened hotspots (Fanaroff & Riley 1974); wide- and narrow-angle
tails bent by the cluster medium; halos with exponential profiles (Murgia et al. 2009); relics
as arcs with a sharp outer edge at the cluster periphery; odd radio circles as thin edge-brightened
rings without a bright core (Norris et al. 2021, cited by seed 002 sec. 5); X-shaped galaxies with a
second, fainter pair of wings; giant radio galaxies larger than 0.7 Mpc with faint diffuse lobes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from radioexplore.simulation.instrument import FWHM_TO_SIGMA
from radioexplore.simulation.sky import add_gaussian, add_path, add_point, add_profile, texture

Point = tuple[float, float]
Renderer = Callable[..., list[Point]]


def _unit(angle: float) -> tuple[float, float]:
    return float(np.cos(angle)), float(np.sin(angle))


def _line_density(surface_jy_beam: float, beam_px: float, width_px: float) -> float:
    """Flux per pixel of length (Jy/px) of a line with Gaussian cross-section ``width_px`` (sigma) that
    peaks at ``surface_jy_beam`` after convolution with a circular peak-1 beam of FWHM ``beam_px``."""
    sb = beam_px * FWHM_TO_SIGMA
    s_eff = np.hypot(sb, width_px)
    return float(surface_jy_beam * s_eff / (np.sqrt(2.0 * np.pi) * sb**2))


def _smooth_to_pixel(surface_jy_beam: float, beam_px: float) -> float:
    """Jy/pixel of emission smooth on the beam scale that shows ``surface_jy_beam`` Jy/beam."""
    return float(surface_jy_beam / (np.pi / (4.0 * np.log(2.0)) * beam_px**2))


# -- radio galaxies (amplitude: total flux density, Jy) ---------------------------------------
class Arm(NamedTuple):
    """One side of a radio galaxy: from the core ``(x, y)`` along ``angle`` (rad) for ``length`` px, ``flux`` Jy."""

    x: float
    y: float
    angle: float
    length: float
    flux: float


def _jet(sky: np.ndarray, rng: np.random.Generator, arm: Arm, bend: float, widen: float) -> Point:
    """An FR I-like jet: brightest near the core, fading and widening, gently bending; returns its end."""
    x, y, angle, length, flux = arm
    n = max(int(length / 1.5), 6)
    t = np.linspace(0.04, 1.0, n)
    phi = angle + bend * t**2 + 0.05 * np.sin(2 * np.pi * t * rng.uniform(1, 3) + rng.uniform(0, 2 * np.pi))
    step = length / n
    xs = x + np.cumsum(step * np.cos(phi))
    ys = y + np.cumsum(step * np.sin(phi))
    knots = 1.0 + 0.6 * (rng.random(n) < 0.15)
    weights = np.exp(-t / 0.35) * knots
    weights *= flux / weights.sum()
    widths = 0.6 + widen * length * t**1.5  # collimated near the core, flaring into a plume
    add_path(sky, xs, ys, weights, widths, axis_ratio=0.8)
    return float(xs[-1]), float(ys[-1])


def fr1(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """FR I: a bright core and two-sided jets that fade and flare into plumes (edge-darkened)."""
    angle = rng.uniform(0, np.pi)
    core = rng.uniform(0.05, 0.2)
    add_point(sky, x, y, core * amplitude)
    ratio = rng.uniform(1.0, 3.0)  # relativistic beaming brightens the approaching jet
    half = size_px / 2.0
    ends = [(x, y)]
    for side, share in ((0.0, ratio / (1 + ratio)), (np.pi, 1 / (1 + ratio))):
        f = (1 - core) * amplitude * share
        a = angle + side
        end = _jet(sky, rng, Arm(x, y, a, half * rng.uniform(0.75, 0.95), 0.7 * f), rng.normal(0, 0.35), 0.22)
        for _ in range(4):  # the plume: diffuse, clumpy, wider than the jet
            add_gaussian(
                sky,
                end[0] + rng.normal(0, 0.06 * half),
                end[1] + rng.normal(0, 0.06 * half),
                0.3 * f / 4,
                0.12 * half * rng.uniform(0.8, 1.3),
                axis_ratio=rng.uniform(0.5, 0.9),
                angle=a + rng.normal(0, 0.4),
            )
        ends.append(((x + end[0]) / 2, (y + end[1]) / 2))
    return ends


def _lobe(sky: np.ndarray, rng: np.random.Generator, arm: Arm, hotspot: float, diffuse: float) -> Point:
    """An FR II lobe along the arm: hotspot at the tip, textured lobe behind it; returns the hotspot."""
    x, y, angle, length, flux = arm
    ux, uy = _unit(angle)
    hx, hy = x + 0.96 * length * ux, y + 0.96 * length * uy
    add_gaussian(sky, hx, hy, hotspot * flux, rng.uniform(0.5, 1.2))
    rest = (1 - hotspot) * flux
    for frac, share, width in (
        (0.86, 0.35, 0.07),
        (0.72, 0.3, 0.1 * diffuse),
        (0.56, 0.2, 0.12 * diffuse),
        (0.4, 0.15, 0.12 * diffuse),
    ):
        for _ in range(3):  # clumps make the lobe textured rather than one smooth ellipse
            jitter = rng.normal(0, 0.04 * length, 2)
            add_gaussian(
                sky,
                x + frac * length * ux + jitter[0],
                y + frac * length * uy + jitter[1],
                rest * share / 3 * rng.uniform(0.7, 1.3),
                max(width * length * rng.uniform(0.8, 1.2), 0.6),
                axis_ratio=rng.uniform(0.5, 0.9),
                angle=angle + rng.normal(0, 0.2),
            )
    return hx, hy


def fr2(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """FR II: faint core, thin jets (sometimes), lobes with edge-brightened hotspots."""
    angle = rng.uniform(0, np.pi)
    core = rng.uniform(0.01, 0.05)
    add_point(sky, x, y, core * amplitude)
    ratio = rng.uniform(1.0, 2.0)
    points = [(x, y)]
    for side, share in ((0.0, ratio / (1 + ratio)), (np.pi, 1 / (1 + ratio))):
        length = size_px / 2 * rng.uniform(0.85, 1.0)
        a = angle + side + rng.normal(0, 0.05)
        f = (1 - core) * amplitude * share
        if rng.random() < 0.5:  # a faint jet feeding the hotspot
            t = np.linspace(0.05, 0.9, max(int(length / 2), 4))
            ux, uy = _unit(a)
            add_path(
                sky, x + t * length * ux, y + t * length * uy, np.full(t.size, 0.03 * f / t.size), np.full(t.size, 0.5)
            )
        points.append(_lobe(sky, rng, Arm(x, y, a, length, 0.97 * f), rng.uniform(0.25, 0.45), 1.0))
    return points


def bent(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """A wide-angle (WAT) or narrow-angle / head-tail (NAT) galaxy: jets swept back by the cluster medium."""
    wind = rng.uniform(0, 2 * np.pi)  # the direction the tails are swept to
    opening = rng.uniform(0.7, 1.5) if rng.random() < 0.6 else rng.uniform(0.1, 0.4)  # WAT or NAT
    core = rng.uniform(0.05, 0.15)
    add_point(sky, x, y, core * amplitude)
    points = [(x, y)]
    n = max(int(size_px / 1.5), 10)
    for sign in (1.0, -1.0):
        direction = wind + np.pi + sign * (np.pi - opening)  # leaves at +-opening from the tail axis
        px, py = x, y
        xs, ys = [], []
        step = size_px / n
        for _ in range(n):
            # turn the jet gradually towards the wind direction (ram pressure)
            turn = np.angle(np.exp(1j * (wind - direction)))
            direction += 0.08 * turn + rng.normal(0, 0.03)
            px += step * np.cos(direction)
            py += step * np.sin(direction)
            xs.append(px)
            ys.append(py)
        t = np.linspace(0.0, 1.0, n)
        weights = np.exp(-t / 0.6)
        weights *= (1 - core) * amplitude / 2 / weights.sum()
        add_path(sky, np.array(xs), np.array(ys), weights, 0.6 + 0.06 * size_px * t, axis_ratio=0.8)
        points.append((xs[-1], ys[-1]))
    return points


def xrg(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """X-shaped radio galaxy: FR II-like active lobes plus a second, fainter pair of wings without hotspots."""
    angle = rng.uniform(0, np.pi)
    core = rng.uniform(0.02, 0.06)
    add_point(sky, x, y, core * amplitude)
    wings = rng.uniform(0.25, 0.4)
    points = [(x, y)]
    for side in (0.0, np.pi):
        f = (1 - core - wings) * amplitude / 2
        points.append(_lobe(sky, rng, Arm(x, y, angle + side, size_px / 2 * rng.uniform(0.9, 1.0), f), 0.3, 1.0))
    offset = rng.choice([-1, 1]) * rng.uniform(np.deg2rad(50), np.deg2rad(90))
    for side in (0.0, np.pi):
        a = angle + offset + side
        length = size_px / 2 * rng.uniform(0.6, 0.95)
        ux, uy = _unit(a)
        t = np.linspace(0.15, 1.0, 8)
        weights = np.linspace(1.0, 0.6, t.size)
        weights *= wings * amplitude / 2 / weights.sum()
        add_path(sky, x + t * length * ux, y + t * length * uy, weights, 0.1 * length + 0.05 * length * t, 0.6)
        points.append((x + length * ux, y + length * uy))
    return points


def grg(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """Giant radio galaxy (> 0.7 Mpc): a visible core and wide, faint, diffuse lobes with weak hotspots."""
    angle = rng.uniform(0, np.pi)
    core = rng.uniform(0.05, 0.15)
    add_point(sky, x, y, core * amplitude)
    points = [(x, y)]
    for side in (0.0, np.pi):
        length = size_px / 2 * rng.uniform(0.85, 1.0)
        f = (1 - core) * amplitude / 2 * rng.uniform(0.8, 1.2)
        a = angle + side + rng.normal(0, 0.06)
        hot = _lobe(sky, rng, Arm(x, y, a, length, f), rng.uniform(0.05, 0.15), 1.6)
        ux, uy = _unit(a)
        points += [(x + 0.7 * length * ux, y + 0.7 * length * uy), hot]
    return points


# -- diffuse emission (amplitude: peak surface brightness, Jy/beam) ---------------------------
def halo(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """Cluster radio halo: I(r) = I0 exp(-r/r_e) (Murgia et al. 2009), slightly elliptical and clumpy.

    ``size_px`` is the visible diameter, taken as 6 r_e (where the profile falls to I0/e^3).
    """
    r_e = size_px / 6.0
    half = int(np.ceil(5 * r_e))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    fx, fy = x - int(x), y - int(y)
    q, pa = rng.uniform(0.7, 1.0), rng.uniform(0, np.pi)
    u = (xx - fx) * np.cos(pa) + (yy - fy) * np.sin(pa)
    v = (-(xx - fx) * np.sin(pa) + (yy - fy) * np.cos(pa)) / q
    r = np.hypot(u, v)
    i0 = _smooth_to_pixel(amplitude, beam_px)
    stamp = i0 * np.exp(-r / r_e) * texture(rng, r.shape, 2.0 * beam_px, 0.25)
    add_profile(sky, int(x) - half, int(y) - half, stamp)
    return [(x, y)]


def relic(sky, rng, x, y, size_px, amplitude, beam_px, centre: Point | None = None, **_) -> list[Point]:
    """Cluster radio relic: an arc at the cluster periphery, concave towards the centre, with a sharp
    outer edge and emission fading inwards (the shock's downstream side); ``size_px`` is its length."""
    cx, cy = centre if centre is not None else (x + rng.normal(0, 1), y - size_px)
    outward = np.arctan2(y - cy, x - cx)
    radius = max(np.hypot(x - cx, y - cy), 0.3 * size_px) * rng.uniform(0.8, 1.5)  # curvature radius
    ox, oy = x - radius * np.cos(outward), y - radius * np.sin(outward)  # centre of curvature
    half_angle = min(size_px / (2 * radius), 1.2)
    inner = rng.uniform(1.0, 2.5) * beam_px  # downstream fading length
    outer = rng.uniform(0.3, 0.6) * beam_px * FWHM_TO_SIGMA
    ext = int(np.ceil(radius * np.sin(half_angle) + 4 * inner + 8))
    yy, xx = np.mgrid[-ext : ext + 1, -ext : ext + 1].astype(float)
    gx, gy = xx + int(x), yy + int(y)
    r = np.hypot(gx - ox, gy - oy)
    phi = np.angle(np.exp(1j * (np.arctan2(gy - oy, gx - ox) - outward)))
    s = r - radius  # > 0: outside the shock front
    across = np.where(s > 0, np.exp(-0.5 * (s / outer) ** 2), np.exp(np.minimum(s, 0) / inner))
    along = np.clip(1 - (phi / half_angle) ** 2, 0, None) ** 0.5
    i0 = _smooth_to_pixel(amplitude, beam_px) * 1.5  # thin: convolution lowers the peak
    stamp = i0 * across * along * texture(rng, r.shape, 1.5 * beam_px, 0.3)
    add_profile(sky, int(x) - ext, int(y) - ext, stamp)
    ends = [
        (ox + radius * np.cos(outward + sgn * 0.8 * half_angle), oy + radius * np.sin(outward + sgn * 0.8 * half_angle))
        for sgn in (-1, 1)
    ]
    return [(x, y), *[(float(a), float(b)) for a, b in ends]]


def filament(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """A long thin filament (one or two beams wide), gently curved, of nearly uniform brightness."""
    angle = rng.uniform(0, np.pi)
    n = max(int(size_px), 10)
    t = np.linspace(-0.5, 0.5, n)
    curve = rng.uniform(-0.25, 0.25) * size_px * (1 - 4 * t**2)  # a bow across its length
    wiggle = np.cumsum(rng.normal(0, 0.15, n))
    wiggle -= np.linspace(wiggle[0], wiggle[-1], n)
    ux, uy = _unit(angle)
    perp = curve + wiggle
    xs = x + t * size_px * ux - perp * uy
    ys = y + t * size_px * uy + perp * ux
    width = rng.uniform(0.3, 1.0) * beam_px * FWHM_TO_SIGMA
    density = _line_density(amplitude, beam_px, width)
    step = np.hypot(np.diff(xs), np.diff(ys)).mean()
    brightness = 1.0 + 0.3 * np.sin(2 * np.pi * t * rng.uniform(0.5, 2) + rng.uniform(0, 2 * np.pi))
    add_path(sky, xs, ys, density * step * brightness, np.full(n, width))
    return [(float(xs[i]), float(ys[i])) for i in (n // 10, n // 2, n - 1 - n // 10)]


def orc(sky, rng, x, y, size_px, amplitude, beam_px, **_) -> list[Point]:
    """Odd radio circle: a thin, edge-brightened ring of diameter ``size_px``, brighter on one side,
    with faint diffuse interior emission and at most a faint central source (no bright core)."""
    radius = size_px / 2.0
    width = max(rng.uniform(0.06, 0.12) * radius, 0.5)
    half = int(np.ceil(radius + 5 * width + 2))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    dx, dy = xx - (x - int(x)), yy - (y - int(y))
    r = np.hypot(dx, dy)
    phi = np.arctan2(dy, dx)
    density = _line_density(amplitude, beam_px, width)
    lopsided = 1.0 + rng.uniform(0.2, 0.6) * np.cos(phi - rng.uniform(0, 2 * np.pi))
    ring = density / (np.sqrt(2 * np.pi) * width) * np.exp(-0.5 * ((r - radius) / width) ** 2) * lopsided
    interior = rng.uniform(0.05, 0.15) * _smooth_to_pixel(amplitude, beam_px) * (r < radius) * (1 - (r / radius) ** 2)
    stamp = (ring + interior) * texture(rng, r.shape, beam_px, 0.2)
    add_profile(sky, int(x) - half, int(y) - half, stamp)
    add_point(sky, x, y, rng.uniform(0.0, 0.2) * amplitude)  # a faint host, at most a fifth of the ring
    return [(x, y)]  # the ring is smaller than a tile: its centre places it


#: Renderers by kind; the survey draws positions, sizes and amplitudes and calls these.
MORPHOLOGIES: dict[str, Renderer] = {
    "fr1": fr1,
    "fr2": fr2,
    "bent": bent,
    "halo": halo,
    "relic": relic,
    "filament": filament,
    "orc": orc,
    "xrg": xrg,
    "grg": grg,
}

#: Kinds whose ``amplitude`` is a peak surface brightness (Jy/beam) rather than a total flux (Jy).
SURFACE_KINDS = frozenset({"halo", "relic", "filament", "orc"})
