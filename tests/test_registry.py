"""One look-up for every registry: the entry, or a ValueError that names what was asked and the choices."""

import pytest

from radioexplore.registry import lookup


def test_lookup_returns_the_entry_and_names_the_choices_in_order():
    registry = {"ivf": 1, "hnsw": 2}
    assert lookup(registry, "hnsw", "approximate index") == 2
    with pytest.raises(ValueError, match=r"^unknown approximate index 'flat'; choose one of ivf, hnsw$"):
        lookup(registry, "flat", "approximate index")
    with pytest.raises(ValueError, match=r"^recipe 'dino_vits8': unknown method 'moco'; choose one of ivf, hnsw$"):
        lookup(registry, "moco", "method", where="recipe 'dino_vits8'")
    with pytest.raises(ValueError, match=r"unknown blend \['mix'\]"):  # an unhashable name, e.g. from a TOML list
        lookup(registry, ["mix"], "blend")


def test_a_key_error_inside_the_entry_is_not_reported_as_an_unknown_name():
    def broken():
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        lookup({"broken": broken}, "broken", "estimator")()


def test_every_registry_of_the_library_raises_the_same_error():
    from radioexplore.ingest.noise import robust_rms
    from radioexplore.ingest.scaling import make_scaler
    from radioexplore.ranking.config import RankConfig
    from radioexplore.review.export import export
    from radioexplore.space.index import choose_factory

    cases = [
        (lambda: make_scaler("nope"), "scaling"),
        (lambda: robust_rms([1.0, 2.0], "nope"), "noise estimator"),
        (lambda: choose_factory(10**6, 8, "nope"), "approximate index"),
        (lambda: RankConfig(method="nope"), "ranking method"),
        (lambda: export(None, [], "nope", "out.csv"), "export format"),
    ]
    for call, what in cases:
        with pytest.raises(ValueError, match=rf"^unknown {what} 'nope'; choose one of \w[^[]*$"):
            call()


def test_the_registries_of_networks_and_training_raise_the_same_error():
    import torch

    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.models.vit import vit
    from radioexplore.ssl import method_of
    from radioexplore.ssl.optim import build_optimizer
    from radioexplore.ssl.recipe import Recipe

    for call, what in [
        (lambda: build_backbone(BackboneSpec(arch="nope")), "backbone"),
        (lambda: vit(width="nope"), "ViT width"),
        (lambda: build_optimizer("nope", torch.nn.Linear(2, 1)), "optimizer"),
    ]:
        with pytest.raises(ValueError, match=rf"^unknown {what} 'nope'; choose one of \w[^[]*$"):
            call()
    with pytest.raises(ValueError, match="^recipe 'mine': unknown method 'nope'; choose one of dino, "):
        method_of(Recipe(name="mine", method="nope"))
