"""The embedding space: FAISS indexes, 2-D maps (UMAP, t-SNE, PCA) and similarity search."""
