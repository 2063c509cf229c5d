"""Simulation settings the simulation tests share: ``QUIET`` draws no sources (a field of noise and artefacts)."""

#: ``SimulationConfig`` overrides that switch off every source population.
QUIET = dict(
    compact_per_sq_deg=0.0,
    galaxies_per_sq_deg=0.0,
    halo_probability=0.0,
    relic_probability=0.0,
    filaments_per_sq_deg=0.0,
    peculiar_per_sq_deg=(0.0, 0.0, 0.0),
)
