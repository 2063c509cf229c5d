"""radioexplore: astronomer-in-the-loop exploration of radio continuum surveys.

The library: data (simulation, FITS ingest, tiling, scaling), models and self-supervision,
embedding, similarity index, maps, anomaly ranking, labels and probes. It never imports the app.
"""

__version__ = "0.1.0"
