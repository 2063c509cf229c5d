"""Dask fan-out on 2 local worker processes: ingest (a task per field) and embedding (a task per block
of tiles) write the same artefacts as the single-process path."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import zarr

from radioexplore.embed.embedding import EmbedConfig, embed_run, embed_tiles, tile_blocks
from radioexplore.ingest.images import IngestConfig, ingest
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.models.checkpoint import load_backbone, save_backbone
from radioexplore.run.fanout import DaskConfig, dask_client, map_tasks
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import CHUNK_TILES, open_tile_store, read_tiles

from .conftest import ROOT

TILE_PX = 120  # 5 x 5 tiles per 512 px field: field edges fall inside store chunks (25, 50, 75)


@pytest.fixture(scope="module")
def client():
    """Two local worker processes, started by the code path `--dask --workers 2` uses."""
    with dask_client(DaskConfig(workers=2, processes=True)) as c:
        yield c


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A seeded random ViT-tiny/8 at 32 px: the demo architecture, cheap enough to embed twice in a test."""
    spec = BackboneSpec(arch="vit_tiny", patch=8, in_chans=1, input_px=32, mean=0.1, std=0.2)
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_backbone(path, build_backbone(spec), spec)
    return path


@pytest.fixture(scope="module")
def single(tmp_path_factory, small_survey, checkpoint) -> RunDir:
    """The reference: ingest and embed in this process."""
    run = RunDir(tmp_path_factory.mktemp("single") / "run")
    ingest(_fields(small_survey), run, _ingest_config(small_survey), progress=False)
    embed_run(run, _embed_config(checkpoint), progress=False)
    return run


def _fields(survey):
    return sorted(survey.glob("field_*.fits"))


def _ingest_config(survey) -> IngestConfig:
    return IngestConfig(tile_px=TILE_PX, catalog=str(survey / "catalogue.csv"))


def _embed_config(checkpoint) -> EmbedConfig:
    """Tiles shrunk to the checkpoint's 32 px (cheap); the fanned-out runs must pass that size to their tasks."""
    return EmbedConfig(name="vit", checkpoint=str(checkpoint), batch_size=16, block_tiles=32, input_px=32)


def test_workers_import_this_checkout_single_threaded(client):
    files = client.run(lambda: __import__("radioexplore").__file__)
    assert len(files) == 2
    assert all(f == str(ROOT / "radioexplore" / "__init__.py") for f in files.values())
    # Dask starts workers with OMP_NUM_THREADS=1: parallelism is workers x threads, not oversubscribed
    assert set(client.run(lambda: __import__("torch").get_num_threads()).values()) == {1}


def test_fanned_out_ingest_and_embedding_equal_the_single_process_run(
    client, single, small_survey, checkpoint, tmp_path
):
    fields = single.read_tiles()["field"].value_counts()
    assert (fields % CHUNK_TILES != 0).all()  # every field boundary splits a chunk between two tasks

    run = RunDir(tmp_path / "dask")
    ingest(_fields(small_survey), run, _ingest_config(small_survey), progress=False, client=client)
    pd.testing.assert_frame_equal(run.read_tiles(), single.read_tiles())
    ours = zarr.open_array(str(run.tile_pixels), mode="r")
    ref = zarr.open_array(str(single.tile_pixels), mode="r")
    assert ours.shape == ref.shape and ours.chunks == ref.chunks
    assert np.array_equal(ours[:], ref[:], equal_nan=True)
    assert np.abs(np.asarray(ours[:], np.float32)).sum() > 0  # pixels were written, not left at the fill value
    assert json.loads(run.ingest_report.read_text()) == json.loads(single.ingest_report.read_text())
    meta = run.stage_config("ingest")
    assert meta["executor"] == "dask" and meta["workers"] == 2
    assert meta["field_scaling"] == single.stage_config("ingest")["field_scaling"]
    assert not list(run.root.glob(".tiles.zarr.*"))  # no temporary store left behind

    config = _embed_config(checkpoint)
    assert len(tile_blocks(ours.shape[0], config.block_tiles, config.batch_size)) > 2
    embed_run(run, config, progress=False, client=client)
    emb, want = run.read_embeddings("vit"), single.read_embeddings("vit")
    assert emb.shape == want.shape and emb.dtype == np.float32
    np.testing.assert_allclose(emb, want, rtol=1e-4, atol=1e-5)
    assert run.stage_config("embed", "vit")["executor"] == "dask"
    assert single.stage_config("embed", "vit")["executor"] == "single process"
    # both at the asked 32 px, not at the tiles' own 120 px
    assert run.stage_config("embed", "vit")["embed_px"] == 32
    model, spec, _ = load_backbone(checkpoint)
    direct = embed_tiles(model, spec, read_tiles(open_tile_store(run.tile_pixels), [0, 1]), input_px=32, progress=False)
    np.testing.assert_allclose(emb[:2], direct, rtol=1e-4, atol=1e-5)


def test_cli_fans_out_to_a_running_scheduler(client, single, small_survey, checkpoint, tmp_path, cli_main):
    run = tmp_path / "cli"
    address = client.scheduler.address
    cli_main(
        "ingest",
        *_fields(small_survey),
        "--run",
        run,
        "--tile",
        TILE_PX,
        "--catalog",
        small_survey / "catalogue.csv",
        "--scheduler",
        address,
    )
    assert RunDir(run).stage_config("ingest")["scheduler"] == address
    pd.testing.assert_frame_equal(RunDir(run).read_tiles(), single.read_tiles())
    cli_main(
        "embed",
        "--run",
        run,
        "--checkpoint",
        checkpoint,
        "--batch-size",
        16,
        "--block-tiles",
        32,
        "--input-px",
        32,
        "--scheduler",
        address,
    )
    np.testing.assert_allclose(RunDir(run).read_embeddings("vit"), single.read_embeddings("vit"), rtol=1e-4, atol=1e-5)


def test_a_failing_task_raises_in_the_caller_and_results_keep_their_order(client):
    assert map_tasks(math.sqrt, [16.0, 1.0, 9.0, 4.0], client=client, progress=False) == [4.0, 1.0, 3.0, 2.0]
    with pytest.raises(ValueError, match="math domain error"):
        map_tasks(math.sqrt, [4.0, -1.0, 9.0], client=client, progress=False)


def test_blocks_are_whole_batches_and_chunks_and_cover_every_tile():
    blocks = tile_blocks(1000, block_tiles=100, batch_size=24)
    assert blocks[0] == (0, 144) and blocks[-1][1] == 1000
    assert all(b == a2 for (_, b), (a2, _) in zip(blocks, blocks[1:], strict=False))
    assert all(a % 48 == 0 for a, _ in blocks)


def test_bad_dask_options_are_named(cli_main, tmp_path, small_survey):
    code, _, err = cli_main(
        "ingest", small_survey / "field_000.fits", "--run", tmp_path / "r", "--dask", "--workers", 0, check=False
    )
    assert code == 2 and "--workers" in err
    code, _, err = cli_main("ingest", "--stamps", tmp_path, "--run", tmp_path / "s", "--dask", check=False)
    assert code == 2 and "--stamps" in err
