"""Searching by an uploaded FITS cutout: embedded as the run embedded its tiles, then searched as a tile.

- ``query``: :func:`embed_cutout` and :class:`CutoutEmbedding`, the cutout made into search queries;
- ``sky``: where the cutout lies among the run's fields, and each field's pixel scale;
- ``pixels``: the cutout's pixels resampled and placed on a tile, padded with noise like its own;
- ``scaling``: the run's scaling state in units of a cutout's own noise;
- ``backbone``: the embed stage's network rebuilt from its run.toml record, to embed the pixels.
"""
