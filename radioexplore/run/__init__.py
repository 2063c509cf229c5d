"""The run directory and what lives in it: paths, atomic writes, the tile store, tiling, the label store, process fan-out."""
