"""The simulated radio sky: instrument, compact and extended emission, artefacts, survey, preview.

``radioexplore.simulate`` re-exports the public names, so ``from radioexplore.simulate import
SimulationConfig, simulate_survey, tile_truth`` keeps working.
"""
