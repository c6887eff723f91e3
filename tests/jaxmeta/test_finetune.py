"""Online fine-tuning (jaxmeta.finetune), the Reptile learner and `jaxmeta finetune` on the toy env (fast),
plus a slow-marked check that fine-tuning beats zero-shot on a held-out ML1 reach-v3 instance."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import csv
import hashlib
import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta import cli
from jaxmeta.checkpoint import CheckpointError, Checkpointer
from jaxmeta.config import TrainConfig
from jaxmeta.finetune import finetune, finetune_config, grow_tasks, load_source
from jaxmeta.networks import NetworkConfig, make_networks
from jaxmeta.reptile import pick_tasks
from jaxmeta.sac import SACConfig, make_sac
from jaxmeta.train import make_train, train

# toy/1 reaches 100 % eval success in ~30k env steps (a few seconds once compiled)
TOY = dict(
    benchmark="toy/1",
    envs_per_skill=4,
    max_path_length=20,
    total_steps=30_000,
    warmup_steps=320,
    chunk_steps=2_000,
    batch_size=64,
    buffer_capacity=40_000,
    updates_per_step=2,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=10,
    eval_every=10_000,
    checkpoint_every=0,
)


def _tree_digest(path: Path) -> dict:
    out = {}
    for p in sorted(path.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(path))] = (
            st.st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "",
        )
    return out


def _rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A pretrained toy/1 run (skill toy-0) to fine-tune from."""
    out = tmp_path_factory.mktemp("src") / "pre"
    s = train(TrainConfig(**TOY, out=str(out)), progress=False, log=lambda _: None)
    assert s["final_eval"]["success"] >= 0.8, s["final_eval"]
    return out


# ----------------------------------------------------------------------------------------- restore
def test_restored_agent_and_replay_equal_saved(tmp_path):
    cfg = TrainConfig(**{**TOY, "total_steps": 800, "warmup_steps": 400, "chunk_steps": 400}, out=str(tmp_path))
    tr = make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    ts, _ = jax.jit(tr.chunk)(ts)
    ts, _ = jax.jit(tr.chunk)(ts)  # learning has started: optimizer states are non-trivial
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    ck = Checkpointer(tmp_path, 2)
    ck.save(800, ts, cfg, {"chunk": 2, "env_steps": 800})
    ck.close()
    got = load_source(str(tmp_path))
    assert got["step"] == 800 and got["config"] == cfg
    for a, b in zip(jax.tree.leaves(ts.agent), jax.tree.leaves(got["agent"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(jax.tree.leaves(ts.replay), jax.tree.leaves(got["replay"])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert jax.tree.structure(ts.agent) == jax.tree.structure(got["agent"])
    assert int(got["agent"].step) > 0


def test_grow_tasks_keeps_old_tasks_outputs():
    """New skill ids get fresh rows; every old task's actor / critic outputs are unchanged."""

    def sac(T, cond):
        net = make_networks(NetworkConfig(num_skills=T, hidden=(16, 16), conditioning=cond))
        return net, make_sac(SACConfig(num_skills=T), net)

    for cond in ("onehot", "multihead"):
        net2, sac2 = sac(2, cond)
        net3, sac3 = sac(3, cond)
        old = sac2.init(jax.random.key(0))
        old = old.replace(log_alpha=jnp.array([0.3, -0.2]))
        fresh = sac3.init(jax.random.key(1))
        grown = grow_tasks(old, fresh)
        np.testing.assert_array_equal(grown.log_alpha, np.array([0.3, -0.2, float(fresh.log_alpha[2])], np.float32))
        obs = jax.random.normal(jax.random.key(2), (5, 39))
        act = jax.random.uniform(jax.random.key(3), (5, 4), minval=-1, maxval=1)
        for t in (0, 1):
            tid = jnp.full((5,), t, jnp.int32)
            np.testing.assert_allclose(
                net2.actor_apply(old.actor_params, obs, tid)[0],
                net3.actor_apply(grown.actor_params, obs, tid)[0],
                rtol=1e-6,
                atol=1e-6,
            )
            np.testing.assert_allclose(
                net2.critic_apply(old.critic_params, obs, act, tid),
                net3.critic_apply(grown.critic_params, obs, act, tid),
                rtol=1e-6,
                atol=1e-6,
            )
        with pytest.raises(ValueError, match="cannot map"):
            grow_tasks(fresh, old)  # shrinking is not a task-space growth


# ----------------------------------------------------------------------------------------- fine-tune
def test_finetune_new_skill_beats_zero_shot_and_source_untouched(source, tmp_path):
    before = _tree_digest(source)
    cfg = finetune_config(
        str(source),
        benchmark="toy/1",
        split="test",
        keep_buffer=True,
        total_steps=12_000,
        eval_every=4_000,
        out=str(tmp_path / "ft"),
    )
    assert cfg.skill_space == ("toy-0", "toy-1") and cfg.skill_ids == (1,) and cfg.network.num_skills == 2
    assert cfg.warmup_steps == 0 and cfg.updates_per_step == 1 and cfg.steps_per_update == 1
    s = finetune(cfg, progress=False, log=lambda _: None)
    assert _tree_digest(source) == before, "the source run directory was modified"
    zs, fin = s["zero_shot"]["success"], s["final_eval"]["success"]
    assert fin >= 0.8 and fin > zs + 0.3, (zs, fin)
    # forgetting is measured on the source's tasks (kept buffer: toy-0 stays solved)
    assert s["zero_shot"]["source_success"] >= 0.8
    assert s["final_source_eval"]["success"] >= 0.5 and "forgetting" in s
    rows = [r for r in _rows(tmp_path / "ft") if r["kind"] == "eval"]
    assert [int(r["chunk"]) for r in rows][0] == 0 and rows[0]["env_steps"] == "0"
    assert all(r["source_success/toy-0"] not in ("", "nan") for r in rows)
    assert (tmp_path / "ft" / "learning_curve.png").is_file()
    saved = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert saved["finetune"]["source"] == str(source.resolve())


def test_finetune_same_skill_per_fresh_buffer_and_resume(source, tmp_path):
    """ML1-like: held-out instances of the pretraining skill reuse its skill id (no growth); PER; resume."""
    cfg = finetune_config(
        str(source),
        benchmark="toy/1",
        task_indices=tuple(range(25, 50)),
        per=True,
        updates_per_step=(1, 2),
        total_steps=1_600,
        eval_every=800,
        out=str(tmp_path / "ft"),
        eval_episodes=4,
    )
    assert cfg.skill_space == ("toy-0",) and cfg.conditioning_skills is None and cfg.skill_ids == (0,)
    assert cfg.replay_kind == "prioritized" and cfg.steps_per_update == 2
    s1 = finetune(cfg, progress=False, log=lambda _: None, max_chunks=1)
    assert not s1["completed"]
    s2 = finetune(cfg, resume=True, progress=False, log=lambda _: None)
    assert s2["completed"] and s2["resumed_from_chunk"] == 1
    rows = [r for r in _rows(tmp_path / "ft") if r["kind"] == "eval"]
    assert [int(r["chunk"]) for r in rows] == [0, 1, 2]
    assert np.isfinite(float([r for r in _rows(tmp_path / "ft") if r["kind"] == "train"][-1]["critic_loss"]))


# ----------------------------------------------------------------------------------------- reptile
def test_pick_tasks_distinct_with_data():
    counts = jnp.array([5, 0, 3, 7, 0])
    for i in range(5):
        t = np.asarray(pick_tasks(counts, jax.random.key(i), 3))
        assert sorted(t) == [0, 2, 3]
    t = np.asarray(pick_tasks(jnp.array([0, 4, 0]), jax.random.key(0), 3))
    assert (t == 1).all()


def test_reptile_trains_and_finetunes(tmp_path):
    cfg = TrainConfig(
        **{
            **TOY,
            "benchmark": "toy/2",
            "algo": "reptile",
            "total_steps": 3_200,
            "chunk_steps": 800,
            "eval_every": 1_600,
            "updates_per_step": 1,
            "steps_per_update": 2,
            "reptile": dict(inner_steps=3, meta_batch=2, outer_lr=0.5),
        },
        out=str(tmp_path / "rep"),
    )
    assert cfg.balanced and cfg.replay_kind == "balanced"
    s = train(cfg, progress=False, log=lambda _: None)
    assert s["completed"] and s["algo"] == "reptile"
    train_rows = [r for r in _rows(tmp_path / "rep") if r["kind"] == "train"]
    assert np.isfinite(float(train_rows[-1]["critic_loss"])) and int(train_rows[-1]["updates"]) > 0
    ft = finetune_config(
        str(tmp_path / "rep"),
        benchmark="toy/2",
        split="test",
        total_steps=800,
        eval_every=800,
        out=str(tmp_path / "ft"),
        eval_episodes=2,
    )
    assert ft.algo == "mtsac" and ft.skill_space == ("toy-0", "toy-1", "toy-2", "toy-3") and not ft.balanced
    s2 = finetune(ft, progress=False, log=lambda _: None)
    assert s2["completed"] and "zero_shot" in s2 and "final_source_eval" in s2


# ----------------------------------------------------------------------------------------- CLI
@pytest.fixture
def no_compile(monkeypatch):
    import jaxmeta.finetune as f

    def boom(*a, **k):
        raise AssertionError("must fail before compiling")

    monkeypatch.setattr(f, "finetune", boom)


def test_cli_finetune_dry_run(source, capsys, no_compile):
    assert (
        cli.main(
            [
                "finetune",
                "--from",
                str(source),
                "--benchmark",
                "toy/1",
                "--split",
                "test",
                "--keep-buffer",
                "--per",
                "--updates-per-step",
                "2",
                "--total-steps",
                "4k",
                "--dry-run",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "skill_space=['toy-0', 'toy-1']" in out and '"keep_buffer": true' in out and '"per": true' in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--benchmark", "toy/1"], "--from"),
        (["--from", "MISSING", "--benchmark", "toy/1"], "does not exist"),
        (["--from", "SRC", "--benchmark", "ML45"], "not ported"),
        (["--from", "SRC", "--benchmark", "MT1/reach-v3", "--split", "test"], "no test split"),
        (["--from", "SRC", "--benchmark", "toy/1", "--out", "SRC/inside"], "must not be (inside) the source"),
        (["--from", "SRC", "--benchmark", "toy/1", "--seed-index", "3"], "seed_index"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_cli_finetune_errors_fail_fast(source, tmp_path, args, message, capsys, no_compile, monkeypatch):
    from envs.skills import _MODULES

    monkeypatch.delitem(_MODULES, "box-close-v3", raising=False)  # an ML45 test skill without a port
    args = [a.replace("MISSING", str(tmp_path / "nope")).replace("SRC", str(source)) for a in args]
    with pytest.raises(SystemExit) as e:
        cli.main(["finetune"] + args)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_finetune_corrupt_and_collision(source, tmp_path, capsys, no_compile):
    bad = tmp_path / "bad"
    shutil.copytree(source, bad)
    ckpt = next((bad / "checkpoints").iterdir())
    for p in (ckpt / "meta").rglob("*"):
        if p.is_file():
            p.write_bytes(b"garbage")
    with pytest.raises(SystemExit):
        cli.main(["finetune", "--from", str(bad), "--benchmark", "toy/1"])
    assert "corrupt" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="corrupt"):
        load_source(str(bad))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("mine")
    with pytest.raises(SystemExit):
        cli.main(["finetune", "--from", str(source), "--benchmark", "toy/1", "--out", str(taken)])
    assert "not empty" in capsys.readouterr().err
    assert (taken / "x").read_text() == "mine"


# ----------------------------------------------------------------------------------------- slow: ML1
@pytest.mark.slow
def test_ml1_reach_finetune_beats_zero_shot(tmp_path):
    """Pretrain on ML1/reach-v3's 50 train instances (goal hidden), fine-tune on one held-out test
    instance: success on it improves over zero-shot."""
    import envs

    # The held-out instance whose goal (rand_vec[3:6] for reach) lies farthest from the mean training
    # goal: the goal-blind pretrained policy heads for the training goals, so it should fail there
    # zero-shot (held-out instance 0 happens to be solved zero-shot with seed 0).
    bench = envs.benchmark("ML1/reach-v3", seed=0)
    train_goals = np.asarray(bench.train_tasks["reach-v3"])[:, 3:6]
    test_goals = np.asarray(bench.test_tasks["reach-v3"])[:, 3:6]
    far = int(np.argmax(np.linalg.norm(test_goals - train_goals.mean(axis=0), axis=1)))
    pre = TrainConfig(
        benchmark="ML1/reach-v3",
        total_steps=60_000,
        eval_every=0,
        checkpoint_every=0,
        eval_episodes=10,
        out=str(tmp_path / "pre"),
    )
    train(pre, progress=False)
    # 4 updates per batched step of 8 envs (replay ratio 1/2): 1 update per batched step (3k updates in
    # 24k steps) left this instance at 0.0 eval success (train-episode success 0.12).
    cfg = finetune_config(
        str(tmp_path / "pre"),
        benchmark="ML1/reach-v3",
        task_indices=(far,),
        total_steps=24_000,
        updates_per_step=4,
        eval_every=8_000,
        eval_episodes=10,
        out=str(tmp_path / "ft"),
    )
    s = finetune(cfg, progress=False)
    assert s["zero_shot"]["success"] <= 0.5, f"held-out instance {far} is already solved zero-shot: {s['zero_shot']}"
    assert s["final_eval"]["success"] >= s["zero_shot"]["success"] + 0.3, (far, s["zero_shot"], s["final_eval"])
