"""The simulated radio sky: instrument, sky primitives, morphologies, kinds, populations, artefacts, one
field, the survey folder, its diffuse and per-tile truth, preview, synthetic runs and planted embeddings.
The public names of the simulated survey are re-exported here.
"""

from radioexplore.simulation.artefacts import DQF_SOURCE_LEVEL, STRONG_ARTEFACTS, dqf_artefacts
from radioexplore.simulation.field import FieldTruth, simulate_field
from radioexplore.simulation.instrument import (
    FWHM_TO_SIGMA,
    beam_kernel,
    convolve_beam,
    correlated_noise,
    field_wcs,
    primary_beam,
)
from radioexplore.simulation.kinds import EXTENDED_KINDS, KINDS, PECULIAR_KINDS
from radioexplore.simulation.morphology import MORPHOLOGIES
from radioexplore.simulation.sky import add_gaussian, add_point, add_points, power_law_fluxes
from radioexplore.simulation.survey import SimulationConfig, simulate_survey, write_field_fits
from radioexplore.simulation.tile_truth import tile_artefact_truth, tile_truth

__all__ = [
    "DQF_SOURCE_LEVEL",
    "EXTENDED_KINDS",
    "FWHM_TO_SIGMA",
    "KINDS",
    "MORPHOLOGIES",
    "PECULIAR_KINDS",
    "STRONG_ARTEFACTS",
    "FieldTruth",
    "SimulationConfig",
    "add_gaussian",
    "add_point",
    "add_points",
    "beam_kernel",
    "convolve_beam",
    "correlated_noise",
    "dqf_artefacts",
    "field_wcs",
    "power_law_fluxes",
    "primary_beam",
    "simulate_field",
    "simulate_survey",
    "tile_artefact_truth",
    "tile_truth",
    "write_field_fits",
]
