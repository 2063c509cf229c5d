"""The embed stage's network rebuilt from its run.toml record, to embed pixels as the run's tiles were."""

from __future__ import annotations

import numpy as np

from radioexplore.run.errors import RunDirError


def embed_pixels(record: dict, pixels: np.ndarray, device: str) -> np.ndarray:
    """Rebuild the backbone the embed stage used (from its run.toml record) and embed ``[P, C, H, W]``
    tiles, ``[P, D]``."""
    from radioexplore.embed import pixelstats

    if record.get("method") == pixelstats.METHOD:
        centre, scale = np.asarray(record["centre"]), np.asarray(record["scale"])
        return np.stack([pixelstats.standardise(pixelstats.tile_statistics(p), centre, scale) for p in pixels])
    import torch

    from radioexplore.embed.embedding import EmbedConfig, embed_tiles, load_model, recorded_view
    from radioexplore.models import BackboneSpec, build_backbone

    spec = BackboneSpec(**record["spec"])
    source = str(record.get("checkpoint_used", "random init"))
    if record.get("random_init") or source == "random init":
        config = EmbedConfig(random_init=True, arch=spec.arch, seed=int(record.get("seed", 0)))
        model, loaded, _ = load_model(config)
        if loaded != spec:  # the fallback spec differs from the recorded one: rebuild the recorded net
            torch.manual_seed(config.seed)
            model = build_backbone(spec).eval()
    else:
        model, loaded, _ = load_model(EmbedConfig(checkpoint=source))
        if loaded != spec:
            raise RunDirError(f"checkpoint {source} now holds {loaded}, but the run was embedded with {spec}")
    return embed_tiles(
        model, spec, pixels, batch_size=len(pixels), device=device, progress=False, **recorded_view(record, spec)
    )
