"""Tiles to vectors: embedding with a backbone, ViT attention maps, the pixel-statistics baseline."""
