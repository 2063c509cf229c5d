"""The embedding space: FAISS indexes, 2-D maps (UMAP, t-SNE, PCA) and similarity search.

- ``index``: the FAISS indexes over L2-normalised embeddings;
- ``maps``: the 2-D maps of all tiles;
- ``similarity``: the tiles most like a tile, a selection or query vectors (:class:`SimilaritySearch`);
- ``cutout``: an uploaded FITS cutout embedded as the run's tiles were, to search with.
"""
