"""Pre-training recipes: plain-data TOML files in ``pipelines/recipes/`` read into frozen dataclasses.

A recipe names a method (``dino``, ``simclr``, ``byol`` or ``mae``), a backbone and every hyper-parameter; what a
file leaves out takes the default written here, each citing where it comes from. The recipe is
saved into the run (``run.toml`` and ``models/<name>/recipe.toml``) so a checkpoint always says
how it was made.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from radioexplore.models import BackboneSpec
from radioexplore.ssl.augment import MultiCropConfig, SimCLRAugmentConfig
from radioexplore.ssl.byol import BYOLConfig
from radioexplore.ssl.dino import DinoConfig
from radioexplore.ssl.mae import MAEConfig
from radioexplore.ssl.simclr import SimCLRConfig


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedules; defaults are DINO's (Caron et al. 2021) as seed 000 trains it."""

    optimizer: str = "adamw"  # DINO: adamw for ViTs; sgd for ResNet-50; seed 002: adam
    lr: float = 0.0005  # peak LR for a global batch of 256, scaled linearly with the batch (seed 000, sec. 3.3)
    min_lr: float = 1e-6  # end of the cosine decay
    warmup_epochs: int = 10  # linear warm-up (DINO; seed 002 also 10)
    weight_decay: float = 0.04  # cosine weight-decay schedule start (DINO)
    weight_decay_end: float = 0.4  # ... and end; equal values give a constant decay (ResNet)
    clip_grad: float = 3.0  # per-parameter gradient norm limit (DINO); 0 disables
    batch_size: int = 64  # tiles per process per step
    epochs: int = 100
    scale_lr_with_batch: bool = True  # DINO's linear scaling rule lr * batch / 256; seed 002 gives the LR as is


@dataclass(frozen=True)
class MonitorConfig:
    """Seed 000's training monitor (sec. 3.3): a linear probe of compact-source count every few epochs."""

    every_epochs: int = 25  # seed 000: "evaluated every 25 epochs"
    target: str = "n_sources"  # column of tiles.parquet; seed 000 uses the PyBDSF compact-source count
    holdout_fraction: float = 0.2  # tiles kept out of training to test the probe (seed 000: a 20% test split)
    pca_dims: int = 100  # seed 000, sec. 4: PCA to 100 components before a single linear layer
    max_train_tiles: int = 5000  # tiles embedded to train the probe (a sample of the training tiles)
    outlier_sigma: float = 3.0  # seed 000, sec. 4.1: counts beyond 3 sigma of the mean are left out
    at_start: bool = True  # also probe the randomly initialised network (epoch 0), the baseline to beat


@dataclass(frozen=True)
class DataConfig:
    """Which tiles train the model."""

    exclude_flags: tuple[str, ...] = ("blank",)  # blank tiles (all NaN or constant) teach nothing
    min_finite_fraction: float = 0.5  # tiles mostly on the NaN border are left out of training
    in_memory_max_gb: float = 4.0  # read the training tiles into memory when they fit, else from the zarr store
    num_workers: int = 0  # DataLoader workers per process; 0 on a small CPU, 8-10 per GPU
    extra_runs: tuple[str, ...] = ()  # other run directories whose tiles join training (labels never used)


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a pre-training run."""

    name: str = "recipe"
    method: str = "dino"  # a key of radioexplore.ssl.METHODS
    description: str = ""
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda
    threads: int = 0  # torch CPU threads per process; 0 keeps torch's default (OMP_NUM_THREADS, set to 1 by torchrun)
    amp: str = "none"  # mixed precision on CUDA: none, bf16, fp16 (seed 000's command: --use_fp16 false)
    save_every_steps: int = 0  # also checkpoint every N steps (0: at the end of every epoch only)
    backbone: BackboneSpec = field(default_factory=BackboneSpec)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    dino: DinoConfig = field(default_factory=DinoConfig)
    multicrop: MultiCropConfig = field(default_factory=MultiCropConfig)
    simclr: SimCLRConfig = field(default_factory=SimCLRConfig)
    simclr_augment: SimCLRAugmentConfig = field(default_factory=SimCLRAugmentConfig)
    byol: BYOLConfig = field(default_factory=BYOLConfig)
    byol_augment: SimCLRAugmentConfig = field(default_factory=SimCLRAugmentConfig)  # BYOL's two views
    mae: MAEConfig = field(default_factory=MAEConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> Recipe:
        """A copy with top-level fields or ``section__field`` keys changed (``optim__epochs=2``)."""
        top = {k: v for k, v in changes.items() if "__" not in k}
        nested: dict[str, dict[str, Any]] = {}
        for k, v in changes.items():
            if "__" in k:
                section, key = k.split("__", 1)
                nested.setdefault(section, {})[key] = v
        for section, values in nested.items():
            top[section] = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **top)


class RecipeError(ValueError):
    """A recipe that cannot be read; the message names the file and the key."""


def recipes_dir() -> Path:
    """``$RADIOEXPLORE_RECIPES`` if set, else ``pipelines/recipes`` of the source checkout."""
    env = os.environ.get("RADIOEXPLORE_RECIPES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "pipelines" / "recipes"


def available_recipes() -> list[str]:
    folder = recipes_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe file: a path as given, or ``NAME`` looked up as ``recipes_dir()/NAME.toml``."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise RecipeError(f"{path}: no such recipe file")
        return path
    candidate = recipes_dir() / f"{name_or_path}.toml"
    if not candidate.is_file():
        have = ", ".join(available_recipes()) or "none"
        raise RecipeError(f"no recipe named {name_or_path!r} in {recipes_dir()} (available: {have})")
    return candidate


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Read a recipe TOML file (or a recipe name) into a :class:`Recipe`."""
    path = resolve_recipe(name_or_path)
    with open(path, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise RecipeError(f"{path}: not valid TOML ({exc})") from exc
    data.setdefault("name", path.stem)
    return recipe_from_dict(data, source=str(path))


def recipe_from_dict(data: dict[str, Any], source: str = "recipe") -> Recipe:
    return _build(Recipe, data, source, "")


def recipe_with_overrides(
    recipe_name: str,
    overrides: list[str],
    device: str | None = None,
    threads: int | None = None,
    also_runs: list[Path] | None = None,
) -> Recipe:
    """The recipe ``recipe_name`` with ``--set SECTION.KEY=VALUE`` overrides, a device, a thread count and extra
    runs to train on applied: what ``radioexplore pretrain`` trains with."""
    recipe = load_recipe(recipe_name)
    if not overrides and not device and threads is None and not also_runs:
        return recipe
    data = recipe.to_dict()
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise RecipeError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare word is taken as a string
        target = data
        *parents, leaf = key.strip().split(".")
        for part in parents:
            if not isinstance(target.get(part), dict):
                raise RecipeError(f"--set {item!r}: recipe has no section {part!r}")
            target = target[part]
        if leaf not in target:
            raise RecipeError(f"--set {item!r}: recipe has no key {key!r}")
        target[leaf] = parsed
    if device:
        data["device"] = device
    if threads is not None:
        data["threads"] = threads
    if also_runs:
        data["data"]["extra_runs"] = list(data["data"]["extra_runs"]) + [str(Path(r).resolve()) for r in also_runs]
    return recipe_from_dict(data, source=f"recipe {recipe_name} with --set")


def save_recipe(recipe: Recipe, path: str | Path) -> None:
    from radioexplore.run.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(tomli_w.dumps(_tomlable(recipe.to_dict())).encode())


def _build(cls: type, data: dict[str, Any], source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: [{prefix.rstrip('.')}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise RecipeError(f"{source}: unknown key(s) {', '.join(prefix + u for u in unknown)}; known: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, source, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, hint, f"{source}: {prefix}{key}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecipeError(f"{where} must be a list, got {value!r}")
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise RecipeError(f"{where} must be {hint.__name__}, got {value!r}")
    return value


def _tomlable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_tomlable(v) for v in value]
    return value
