"""The training loop: outputs, resuming after a stop or a kill, two processes, checkpoint layouts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import torch

from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.models.checkpoint import load_backbone, save_backbone
from radioexplore.run.rundir import RunDir
from radioexplore.ssl.checkpoint import backbone_path, checkpoint_path
from radioexplore.ssl.data import training_ids
from radioexplore.ssl.monitor import read_log
from radioexplore.ssl.recipe import Recipe, recipe_from_dict, save_recipe
from radioexplore.ssl.train import pretrain

ROOT = Path(__file__).resolve().parents[1]

#: A DINO recipe small enough for a test: a 2-block ViT-tiny/16 on 32 px views, a narrow head, 2 epochs.
TINY = {
    "name": "tiny",
    "method": "dino",
    "device": "cpu",
    "threads": 1,
    "backbone": {"arch": "vit_tiny", "patch": 16, "in_chans": 1, "input_px": 32, "depth": 2},
    "optim": {"lr": 0.001, "batch_size": 4, "epochs": 2, "warmup_epochs": 1, "min_lr": 1e-5},
    "dino": {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16, "momentum_teacher": 0.99},
    "multicrop": {"global_px": 32, "local_px": 16, "n_local": 8},
    "monitor": {"every_epochs": 1, "holdout_fraction": 0.25, "pca_dims": 4, "max_train_tiles": 64},
}


@pytest.fixture(scope="module")
def ssl_run(tmp_path_factory, small_survey) -> RunDir:
    """42 tiles of 128 px from the small survey, with catalogue counts: 32 train, 10 held out."""
    from radioexplore.ingest.images import IngestConfig, ingest

    run = RunDir(tmp_path_factory.mktemp("ssl") / "run")
    files = sorted(small_survey.glob("field_*.fits"))
    ingest(files, run, IngestConfig(tile_px=128, catalog=str(small_survey / "catalogue.csv")), progress=False)
    return run


def tiny_recipe(**changes) -> Recipe:
    return recipe_from_dict(TINY).replace(**changes)


def teacher_state(method) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in method.teacher.state_dict().items()}


def assert_same_state(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=0), k


def test_pretrain_writes_backbone_log_and_a_dino_layout_checkpoint(ssl_run):
    recipe = tiny_recipe()
    res = pretrain(ssl_run, recipe, name="plain", progress=False)
    assert res.finished and res.epoch == 2
    log = read_log(ssl_run, "plain")
    assert [e["epoch"] for e in log] == [0, 1, 2]  # epoch 0: the monitor on the random init
    steps_per_epoch = log[1]["step"]
    assert steps_per_epoch >= 5 and log[2]["step"] == 2 * steps_per_epoch
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in log[1:])
    assert all("probe_mse" in e and e["probe_mse"] >= 0 for e in log)  # seed 000's monitor beside the loss
    assert log[1]["lr"] > log[2]["lr"] > 0 and log[1]["momentum"] < log[2]["momentum"] <= 1

    model, spec, meta = load_backbone(backbone_path(ssl_run, "plain"))
    assert spec == recipe.backbone  # input size and normalisation travel with the weights
    assert meta["provenance"]["method"] == "dino" and meta["recipe"]["optim"]["epochs"] == 2
    exported = model.state_dict()
    assert_same_state(exported, {k: v for k, v in res.method.teacher.backbone.state_dict().items()})
    torch.manual_seed(recipe.seed)
    fresh = build_backbone(recipe.backbone).state_dict()
    assert not torch.allclose(exported["blocks.0.attn.qkv.weight"], fresh["blocks.0.attn.qkv.weight"])

    # the training checkpoint has DINO's layout: load_backbone reads teacher and student from it
    teacher, _, _ = load_backbone(checkpoint_path(ssl_run, "plain"), spec=spec, which="teacher")
    assert_same_state(teacher.state_dict(), exported)
    student, _, _ = load_backbone(checkpoint_path(ssl_run, "plain"), spec=spec, which="student")
    assert not torch.equal(student.state_dict()["norm.weight"], exported["norm.weight"])
    assert "plain" in ssl_run.read_meta()["stages"]["pretrain"]


def test_resume_after_a_stop_continues_the_same_schedules(ssl_run):
    recipe = tiny_recipe(monitor__every_epochs=0)
    full = pretrain(ssl_run, recipe, name="uninterrupted", progress=False)
    steps_per_epoch = full.log[0]["step"]
    stop_at = steps_per_epoch + 3  # in the middle of the second epoch

    first = pretrain(ssl_run, recipe, name="interrupted", max_steps=stop_at, progress=False)
    assert not first.finished and first.step == stop_at
    state = torch.load(checkpoint_path(ssl_run, "interrupted"), weights_only=False)
    assert state["step"] == stop_at
    assert not backbone_path(ssl_run, "interrupted").exists()

    second = pretrain(ssl_run, recipe, name="interrupted", progress=False)
    assert second.finished and second.step == full.step
    a, b = full.log, read_log(ssl_run, "interrupted")
    assert [e["step"] for e in a] == [e["step"] for e in b]
    for key in ("lr", "weight_decay", "momentum", "teacher_temp"):
        assert [e[key] for e in a] == pytest.approx([e[key] for e in b], rel=1e-12), key
    assert [e["loss"] for e in a] == pytest.approx([e["loss"] for e in b], rel=1e-4)
    # same data order, same views, same RNG: the resumed run ends where the uninterrupted one did
    assert_same_state(teacher_state(full.method), teacher_state(second.method), atol=1e-5)


def test_a_killed_pipeline_run_restarts_from_its_checkpoint(ssl_run, tmp_path):
    recipe_file = tmp_path / "tiny.toml"
    save_recipe(tiny_recipe(save_every_steps=1, monitor__every_epochs=0), recipe_file)
    cmd = [sys.executable, str(ROOT / "pipelines" / "pretrain.py"), "--run", str(ssl_run.root), "--recipe", str(recipe_file), "--name", "killed", "-q"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ckpt = checkpoint_path(ssl_run, "killed")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    step = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.is_file():
            try:
                step = torch.load(ckpt, weights_only=False)["step"]
            except Exception:  # being replaced; the atomic rename makes the next read whole
                step = 0
            if step >= 3:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert step >= 3 and not backbone_path(ssl_run, "killed").exists()

    # the same job started again (here in-process, to spare a second interpreter start) continues
    res = pretrain(ssl_run, recipe_from_dict(tomllib.loads(recipe_file.read_text())), name="killed", progress=False)
    assert res.finished
    log = read_log(ssl_run, "killed")
    assert [e["epoch"] for e in log] == [1, 2] and log[-1]["step"] == res.step
    model, spec, _ = load_backbone(backbone_path(ssl_run, "killed"))
    assert spec.arch == "vit_tiny" and spec.depth == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, run_root: str, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world)
    )
    import torch.distributed as dist

    res = pretrain(RunDir(run_root), tiny_recipe(monitor__every_epochs=0), name="ddp", progress=False)
    torch.save({"student": res.method.student.state_dict(), "teacher": res.method.teacher.state_dict(),
                "center": res.method.center, "step": res.step}, Path(out_dir) / f"rank{rank}.pt")  # fmt: skip
    dist.destroy_process_group()


def test_two_gloo_processes_end_with_identical_weights(ssl_run, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(ssl_run.root), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["step"] == r1["step"] > 0
    assert_same_state(r0["student"], r1["student"])
    assert_same_state(r0["teacher"], r1["teacher"])
    assert torch.equal(r0["center"], r1["center"])
    # each process sees its half of the training tiles: an epoch has half the steps of one process
    n_train = len(training_ids(ssl_run, tiny_recipe(monitor__every_epochs=0))[0])
    assert r0["step"] == 2 * ((n_train // 2) // 4)
    record = ssl_run.read_meta()["stages"]["pretrain"]["ddp"]
    assert record["processes"] == 2 and record["rank_checksums"][0] == record["rank_checksums"][1]


def test_official_dino_checkpoint_layouts_load(tmp_path):
    torch.manual_seed(0)
    spec = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=32, depth=2)
    teacher, student = build_backbone(spec).state_dict(), build_backbone(spec).state_dict()
    head = {"head.mlp.0.weight": torch.zeros(4, 192), "head.last_layer.weight_g": torch.ones(8, 1)}
    payload = {
        "teacher": {**{f"backbone.{k}": v for k, v in teacher.items()}, **head},  # teacher not wrapped in DDP
        "student": {
            **{f"module.backbone.{k}": v for k, v in student.items()},
            **{f"module.{k}": v for k, v in head.items()},
        },
        "epoch": 100,
        "args": None,
    }
    path = tmp_path / "checkpoint.pth"
    torch.save(payload, path)
    model, got_spec, meta = load_backbone(path)  # architecture read off the shapes
    assert (got_spec.arch, got_spec.patch, got_spec.input_px, got_spec.depth) == ("vit_tiny", 16, 32, 2)
    assert_same_state(model.state_dict(), teacher)
    model, _, _ = load_backbone(path, which="student")
    assert_same_state(model.state_dict(), student)

    rn = build_backbone(BackboneSpec(arch="resnet18", patch=0)).state_dict()
    rgb = {k: (v.repeat(1, 3, 1, 1) / 3 if k == "conv1.weight" else v) for k, v in rn.items()}
    torch.save({"teacher": {f"module.backbone.{k}": v for k, v in rgb.items()}}, tmp_path / "rn.pth")
    model, got_spec, _ = load_backbone(tmp_path / "rn.pth")
    assert got_spec.arch == "resnet18"
    assert torch.allclose(model.state_dict()["conv1.weight"], rn["conv1.weight"], atol=1e-6)  # RGB filters summed

    ours = tmp_path / "ours.pt"
    save_backbone(ours, build_backbone(spec), spec, recipe={"name": "x"})
    assert load_backbone(ours)[1] == spec


def test_tiles_of_extra_runs_join_the_training_set(ssl_run):
    recipe = tiny_recipe(monitor__every_epochs=0)
    n_own = len(training_ids(ssl_run, recipe)[0])
    mixed = recipe.replace(data__extra_runs=(str(ssl_run.root),))  # the same tiles again, as a second source
    res = pretrain(ssl_run, mixed, name="mixed", max_steps=1, progress=False)
    state = torch.load(checkpoint_path(ssl_run, "mixed"), weights_only=False)
    assert res.step == 1 and state["steps_per_epoch"] == (2 * n_own) // 4
    assert list(state["recipe"]["data"]["extra_runs"]) == [str(ssl_run.root)]
