"""jaxmeta.checkpoint: exact resume, policy export, missing/corrupt/mismatched checkpoints, run-dir safety."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import json
import re

import jax
import numpy as np
import pytest

from jaxmeta.checkpoint import (
    CheckpointError,
    Checkpointer,
    latest_step,
    prepare_run_dir,
    restore_policy,
)
from jaxmeta.config import TrainConfig
from jaxmeta.networks import NetworkConfig, make_networks
from jaxmeta.train import train
from tests.jaxmeta.run_helpers import metrics_rows, restore_full_state

KW = dict(
    benchmark="toy/2",
    envs_per_skill=4,
    max_path_length=20,
    total_steps=800,
    warmup_steps=160,
    chunk_steps=160,
    batch_size=32,
    buffer_capacity=4096,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=2,
    eval_every=320,
    checkpoint_every=320,
    keep_checkpoints=2,
    per=True,
)


def cfg_at(path, **kw) -> TrainConfig:
    return TrainConfig(**{**KW, **kw, "out": str(path)})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted 5-chunk run, and one stopped after 3 chunks (last checkpoint: chunk 2) and
    resumed: the resumed process recomputes chunk 3 and continues."""
    base = tmp_path_factory.mktemp("ckpt")
    a, b = base / "a", base / "b"
    sa = train(cfg_at(a), progress=False)
    sb1 = train(cfg_at(b), progress=False, max_chunks=3)
    assert not sb1["completed"]
    assert latest_step(b) == 480  # the stop also checkpoints (chunk 3 = 480 steps)
    sb2 = train(cfg_at(b), progress=False, resume=True)
    return a, b, sa, sb2


def test_resume_equals_uninterrupted(runs):
    a, b, sa, sb = runs
    assert sa["completed"] and sb["completed"] and sb["resumed_from_chunk"] == 3
    ra, rb = metrics_rows(a), metrics_rows(b)
    assert len(ra) == len(rb) == 5 + 3  # 5 train rows, evals after chunks 2, 4, 5
    assert ra == rb
    assert sa["final_eval"] == sb["final_eval"]
    assert sa["best_eval_success"] == sb["best_eval_success"]
    assert sa["eval_success_last3_mean"] == sb["eval_success_last3_mean"]
    # the full state (params, optimizer states, replay with priorities, env, keys) is bit-identical
    sta, meta_a = restore_full_state(a, cfg_at(a))
    stb, meta_b = restore_full_state(b, cfg_at(b))
    assert meta_a["chunk"] == meta_b["chunk"] == 5
    jax.tree.map(np.testing.assert_array_equal, sta, stb)


def test_resume_after_a_crash_mid_run(runs, tmp_path):
    """A process killed between checkpoints: rows written after the last checkpoint are dropped and
    recomputed identically."""
    a, _, _, _ = runs
    c = tmp_path / "c"
    train(cfg_at(c), progress=False, max_chunks=3)
    # simulate the crash: chunk 3's checkpoint never made it to disk
    ck = Checkpointer(c, keep=10)
    ck._mngr.delete(480)
    ck.close()
    assert latest_step(c) == 320
    s = train(cfg_at(c), progress=False, resume=True)
    assert s["resumed_from_chunk"] == 2
    assert metrics_rows(c) == metrics_rows(a)


#: today's name -> the name runs were saved with before the task -> skill renames (issue 18)
_OLD_NAMES = {
    "config": {"conditioning_skills": "task_skills", "num_skills": "num_tasks"},
    "meta": {"skill_id": "task_id", "skill_ids": "task_ids", "skill_counts": "task_counts"},
}


def test_a_run_saved_before_the_task_to_skill_renames_resumes_identically(runs, tmp_path):
    """config.json and checkpoints written with the old names (config ``task_skills``, ``network.num_tasks``;
    state key paths ``.task_id``, ``.task_ids``, ``.task_counts``) resume to the uninterrupted run's rows."""
    a, _, _, _ = runs
    c = tmp_path / "c"
    train(cfg_at(c), progress=False, max_chunks=3)
    files = {
        "config": [c / "config.json", *c.glob("checkpoints/*/config/metadata")],
        "meta": [*c.glob("checkpoints/*/meta/metadata")],
    }
    for kind, paths in files.items():
        assert paths
        for f in paths:
            text = f.read_text()
            if kind == "config":  # runs of that time had no PPO options (TrainConfig.ppo came later)
                text = json.dumps({k: v for k, v in json.loads(text).items() if k != "ppo"})
            old = text
            for new_name, old_name in _OLD_NAMES[kind].items():
                old = re.sub(rf"\b{new_name}\b", old_name, old)
            assert old != text and all(n not in old for n in _OLD_NAMES[kind]), f
            f.write_text(old)
    s = train(cfg_at(c), progress=False, resume=True)
    assert s["resumed_from_chunk"] == 3
    assert metrics_rows(c) == metrics_rows(a)


def test_keeps_last_k(runs):
    a, _, _, _ = runs
    assert sorted(int(p.name) for p in (a / "checkpoints").iterdir()) == [640, 800]


def test_restore_policy_returns_saved_params(runs):
    a, _, _, _ = runs
    pol = restore_policy(a)
    st, _ = restore_full_state(a, cfg_at(a))
    jax.tree.map(np.testing.assert_array_equal, pol["actor_params"], st.agent.actor_params)
    jax.tree.map(np.testing.assert_array_equal, pol["critic_params"], st.agent.critic_params)
    assert pol["network_config"] == cfg_at(a).network and pol["step"] == 800
    assert pol["skills"] == ("toy-0", "toy-1")
    nets = make_networks(pol["network_config"])  # usable for fine-tuning elsewhere
    act = nets.deterministic_action(pol["actor_params"], np.zeros((3, 39), np.float32), np.array([0, 1, 1]))
    assert act.shape == (3, 4)
    old = restore_policy(a, step=640)
    assert old["step"] == 640


def test_restore_policy_missing(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        restore_policy(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a jaxmeta run"):
        restore_policy(tmp_path)


def test_missing_checkpoint_on_resume(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(cfg_at(tmp_path / "empty"), progress=False, resume=True)


def test_mismatched_config_on_resume(runs):
    a, _, _, _ = runs
    with pytest.raises(CheckpointError, match=r"batch_size: run 32 vs now 64"):
        train(cfg_at(a, batch_size=64), progress=False, resume=True)
    with pytest.raises(CheckpointError, match=r"network.hidden"):
        Checkpointer(a).restore(None, cfg_at(a, network=NetworkConfig(hidden=(16,))))


def test_corrupt_checkpoint(runs, tmp_path):
    import shutil

    a, _, _, _ = runs
    d = tmp_path / "corrupt"
    shutil.copytree(a, d)
    step_dir = d / "checkpoints" / "800" / "state"
    for f in step_dir.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(b"garbage" * 3)
    with pytest.raises(CheckpointError, match="unreadable or corrupt"):
        restore_full_state(d, cfg_at(d))
    pol_dir = d / "checkpoints" / "800" / "policy"
    for f in pol_dir.rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x00")
    with pytest.raises(CheckpointError, match="unreadable or corrupt"):
        restore_policy(d)


def test_run_dir_safety(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="not empty"):
        prepare_run_dir(cfg_at(user))
    with pytest.raises(CheckpointError, match="not a jaxmeta run directory"):
        prepare_run_dir(cfg_at(user), overwrite=True)
    assert (user / "notes.txt").read_text() == "mine"
    # a jaxmeta run dir: overwrite removes only jaxmeta's files
    run = tmp_path / "run"
    (run / "checkpoints" / "5").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "metrics.csv").write_text("x")
    (run / "notes.txt").write_text("mine")
    assert prepare_run_dir(cfg_at(run), overwrite=True) == run
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    with pytest.raises(CheckpointError, match="exclusive"):
        prepare_run_dir(cfg_at(run), resume=True, overwrite=True)


def test_default_out_dir_gets_a_fresh_suffix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(**KW)
    first = prepare_run_dir(cfg)
    assert str(first) == f"checkpoints/{cfg.run_name}"
    (first / "config.json").write_text("{}")
    second = prepare_run_dir(cfg)
    assert second.name == f"{cfg.run_name}-2"
    assert (first / "config.json").exists()


def test_config_json_written(runs):
    a, _, _, _ = runs
    saved = json.loads((a / "config.json").read_text())
    assert TrainConfig.from_dict(saved) == cfg_at(a)
    summary = json.loads((a / "summary.json").read_text())
    assert set(summary["final_eval"]["success_per_skill"]) == {"toy-0", "toy-1"}
    assert summary["timings_s"]["compile"]["run"] >= 0 and summary["timings_s"]["to_first_step"] > 0
    assert (a / "learning_curve.png").stat().st_size > 1000


def test_zero_size_leaves_roundtrip(tmp_path, monkeypatch):
    """mjx.Data has zero-size arrays (e.g. `act`), which orbax cannot store: they are rebuilt."""
    import jax.numpy as jnp

    cfg = cfg_at(tmp_path)
    state = {"a": jnp.arange(6.0).reshape(2, 3), "empty": jnp.zeros((4, 0), jnp.float32), "k": jnp.ones((), jnp.int32)}

    from jaxmeta import checkpoint as C

    monkeypatch.setattr(C, "_policy_of", lambda st: {"actor_params": st["a"], "critic_params": st["k"]})
    ck = Checkpointer(tmp_path, keep=1)
    try:
        ck.save(7, state, cfg, {"chunk": 1})
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
        got, meta = ck.restore(abstract, cfg)
    finally:
        ck.close()
    assert meta["chunk"] == 1
    jax.tree.map(np.testing.assert_array_equal, got, state)
    with pytest.raises(CheckpointError, match="differently shaped"):
        Checkpointer(tmp_path).restore({**abstract, "a": jax.ShapeDtypeStruct((3, 3), jnp.float32)}, cfg)


def test_multi_seed_run_and_policy_export(tmp_path):
    cfg = cfg_at(tmp_path / "s2", num_seeds=2, total_steps=320, eval_every=0, per=False)
    s = train(cfg, progress=False)
    assert s["completed"] and len(s["final_eval"]["success_per_seed"]) == 2
    rows = metrics_rows(tmp_path / "s2")
    assert sorted({r["seed"] for r in rows}) == ["0", "1"]
    both = restore_policy(tmp_path / "s2")
    one = restore_policy(tmp_path / "s2", seed_index=1)
    lb, lo = jax.tree.leaves(both["actor_params"]), jax.tree.leaves(one["actor_params"])
    assert lb[0].shape == (2,) + lo[0].shape
    np.testing.assert_array_equal(lb[0][1], lo[0])
    with pytest.raises(CheckpointError, match="out of range"):
        restore_policy(tmp_path / "s2", seed_index=2)
