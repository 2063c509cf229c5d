"""Ranking tiles and objects for peculiarity, one idea a module:

- ``rank``: a run's tiles ranked into ``scores/<name>.parquet`` (:func:`rank_run`), from the modules below;
- ``config``: :class:`RankConfig`, the settings of ``rank`` recorded in run.toml;
- ``exclusion``: the tile flags left out of the forest ('blank', 'partial');
- ``standardise``: robust standardisation of embedding columns per field;
- ``selection``: seed 002's LightGBM choice of the most telling embedding columns;
- ``forest``: the Isolation Forest and ranks from scores;
- ``local_noise``: the noise a tile or an island is measured against (MAD, envelope from below, mesh rms);
- ``artefacts``: the artefact axis (negative troughs, ripples, bright neighbours, DQF);
- ``artefact_run``: a run's artefact features and scores, cached in artefacts.parquet;
- ``objects``: extended islands of a field image and their features; ``object_shape``: the shape
  features that name peculiar morphologies (ring with a hole, crossed axes, size, surface brightness);
- ``object_score``: the shape forest over the objects, discounted by each object's artefact score;
- ``sources``: islands into sources (the lobes of a double and its core joined, as radio catalogues do);
- ``object_stamps``: source-centred stamps; ``object_run``: the run's objects.parquet, placed on tiles;
- ``peculiar``: the ranking methods that join the forest, the objects and the artefact axis;
- ``active``: active learning from the astronomer's labels (:class:`ActiveConfig`, :class:`ActiveRanker`),
  built from ``active_features`` (the embedding's PCA and the artefact block), ``regressors`` and
  ``blends`` (both chosen by name) and ``spread`` (a label reaches the touching tiles);
  ``active_run`` writes and reads a run's active ranking, ``queue`` picks the next tiles to show;
- ``metrics``: how good a ranking is against the truth (recall in the top, seed 002's Table 4).
"""
