"""RL2 in the trainer (``--algo rl2``, jaxmeta.agents.rl2.train) on the toy env: trials keep their task,
the hidden state and inputs restart at a trial's start, it learns, a resumed run equals an uninterrupted
one, and bad options fail before compiling."""

from __future__ import annotations

import subprocess
import sys

import jaxmeta  # noqa: F401  (XLA flags before JAX)


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta import cli
from jaxmeta.checkpoint import latest_step
from jaxmeta.config import preset
from jaxmeta.train import make_train, train
from tests.jaxmeta.run_helpers import assert_cli_error, forbid_training, metrics_rows, restore_full_state

TOY = dict(
    benchmark="toy/2",
    envs_per_skill=8,
    steps_per_update=10,
    max_path_length=10,
    total_steps=800,
    chunk_steps=160,  # one episode of every env per chunk
    eval_episodes=8,
    eval_every=320,
    checkpoint_every=320,
    keep_checkpoints=3,
    rl2=dict(gru=16, hidden=16),
    ppo=dict(num_minibatches=4, num_epochs=2),
)


def rl2_cfg(**kw):
    return preset("rl2", **{**TOY, **kw})


def test_a_trial_keeps_its_task_and_restarts_the_recurrent_inputs():
    cfg = rl2_cfg()
    tr = make_train(cfg)
    chunk = jax.jit(tr.chunk)
    ts0 = tr.init(tr.seed_key(0))
    assert bool(ts0.loop_state.fresh.all())
    ts1, m1 = chunk(ts0)  # every env finished its trial's first episode: same task, same trial
    np.testing.assert_array_equal(ts1.env.task_index[0], ts0.env.task_index[0])
    assert not bool(ts1.loop_state.fresh.any()) and bool((ts1.loop_state.episodes == 1).all())
    assert bool(ts1.loop_state.prev_done.all())  # the episode end is the next step's input
    assert float(m1["finished"]) == 0.0  # statistics count trials: none finished yet
    ts2, m2 = chunk(ts1)  # trial ends: new tasks drawn, the next step starts a trial
    assert float(m2["finished"]) == cfg.num_envs and int(m2["episodes"]) == 2 * cfg.num_envs
    assert bool(ts2.loop_state.fresh.all()) and bool((ts2.loop_state.episodes == 0).all())
    assert float(jnp.abs(ts2.loop_state.prev_action).max()) == 0.0
    assert not np.array_equal(ts2.env.task_index[0], ts0.env.task_index[0])
    # the rollout of chunk 2 starts from chunk 1's hidden state and has no reset until the trial's end
    ro = ts2.replay
    np.testing.assert_array_equal(ro.h0, ts1.loop_state.h)
    assert not bool(ro.reset.any()) and bool(ro.trial_end[-1].all())


def test_rl2_learns_the_toy_env():
    cfg = rl2_cfg(envs_per_skill=16, max_path_length=20, steps_per_update=20, chunk_steps=6400, eval_episodes=16)
    cfg = cfg.replace(ppo=dict(learning_rate=1e-3, num_epochs=4), rl2=dict(gru=64, hidden=64))
    tr = make_train(cfg)
    run = jax.jit(tr.run, static_argnums=2)
    ts = tr.init(tr.seed_key(0))
    before = run(ts, jax.random.PRNGKey(1), True)[2]
    for _ in range(6):
        ts, m, _ = run(ts, jnp.zeros(2, jnp.uint32), False)
    after = run(ts, jax.random.PRNGKey(1), True)[2]
    assert float(after["return"]) > float(before["return"]) + 5.0  # trial return (2 x 20 steps, reward <= 1)
    assert float(after["success"]) > float(before["success"])
    assert np.isfinite(float(m["policy_loss"])) and float(m["nonfinite_update"]) == 0.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("rl2")
    a, b = base / "a", base / "b"
    sa = train(rl2_cfg(out=str(a)), progress=False)
    train(rl2_cfg(out=str(b)), progress=False, max_chunks=3)
    assert latest_step(b) == 480
    sb = train(rl2_cfg(out=str(b)), progress=False, resume=True)
    return a, b, sa, sb


def test_resume_equals_uninterrupted(runs):
    a, b, sa, sb = runs
    assert sa["completed"] and sb["completed"] and sb["resumed_from_chunk"] == 3
    assert metrics_rows(a) == metrics_rows(b)
    sta, _ = restore_full_state(a, rl2_cfg(out=str(a)))
    stb, _ = restore_full_state(b, rl2_cfg(out=str(b)))
    jax.tree.map(np.testing.assert_array_equal, sta, stb)


def test_meta_test_is_the_trainers_evaluation_of_the_policy(runs, capsys):
    """`meta_test` (what ``jaxmeta eval`` runs for RL2) from the policy export equals the trainer's own
    evaluation of the checkpointed state with the same key; ``jaxmeta eval`` prints it per skill."""
    from jaxmeta.agents.rl2.train import meta_test
    from jaxmeta.checkpoint import restore_policy
    from jaxmeta.programs import compile_programs

    a = runs[0]
    cfg = rl2_cfg(out=str(a))
    state, _ = restore_full_state(a, cfg)
    programs = compile_programs(make_train(cfg))
    _, want = programs.evaluate(state, jax.random.PRNGKey(3))
    got = meta_test(restore_policy(a), cfg, split="train", seed=3)
    np.testing.assert_array_equal(got["success_per_skill"], want["success_per_skill"])
    np.testing.assert_allclose(got["return_per_skill"], want["return_per_skill"], rtol=1e-6)
    assert got["skills"] == ("toy-0", "toy-1")
    assert cli.main(["eval", str(a), "--episodes", "8", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "trial(s) of 2 episodes per skill" in out and "toy-1" in out


def test_a_sampled_meta_test_is_the_trainers_sampled_evaluation(runs, capsys):
    """``how="sample"`` (``jaxmeta eval --policy sample``): the RL2 policy acts with samples, as in its training
    trials; equal to the trainer's evaluation with ``eval_policy="sample"`` of the same state and key, and
    not the mean's."""
    from jaxmeta.agents.rl2.train import meta_test
    from jaxmeta.checkpoint import restore_policy
    from jaxmeta.programs import compile_programs

    a = runs[0]
    cfg = rl2_cfg(out=str(a), eval_policy="sample")
    state, _ = restore_full_state(a, cfg)
    _, want = compile_programs(make_train(cfg)).evaluate(state, jax.random.PRNGKey(3))
    got = meta_test(restore_policy(a), rl2_cfg(out=str(a)), split="train", seed=3, how="sample")
    mean = meta_test(restore_policy(a), rl2_cfg(out=str(a)), split="train", seed=3)
    np.testing.assert_array_equal(got["success_per_skill"], want["success_per_skill"])
    np.testing.assert_allclose(got["return_per_skill"], want["return_per_skill"], rtol=1e-6)
    assert not np.array_equal(got["return_per_skill"], mean["return_per_skill"])
    assert cli.main(["eval", str(a), "--episodes", "8", "--seed", "3", "--policy", "sample"]) == 0
    out = capsys.readouterr().out
    assert "sampled policy, no gradient step" in out and "toy-1" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--algo", "rl2", "--minibatches", "5"], r"the 64 envs' sequences do not split into ppo\.num_minibatches = 5"),
        (["--algo", "rl2", "--balanced"], r"TrainConfig\.balanced=True: algo 'rl2' is on-policy"),
        (
            ["--algo", "rl2", "--episodes-per-trial", "0"],
            r"RL2Options\.episodes_per_trial must be a positive int, got 0",
        ),
    ],
)
def test_bad_rl2_options_fail_before_compiling(argv, message, capsys, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    assert_cli_error(["train", *argv, "--out", str(tmp_path / "r")], message, capsys)


def test_algo_rl2_starts_from_its_preset():
    cfg = cli.build_config(
        cli.parser().parse_args(["train", "--algo", "rl2", "--episodes-per-trial", "3", "--gru", "64"])
    )
    assert cfg.benchmark == "ML1/reach-v3" and cfg.rl2.episodes_per_trial == 3 and cfg.rl2.gru == 64
    assert cfg.eval_episode_steps == 3 * cfg.max_path_length


def test_several_seeds_initialise_each_as_its_own_single_seed_run():
    """init_batch of S seeds = S single-seed inits (seed i's key: fold_in(run key, i)). Run in a child process
    with a time limit: vmapped over the seeds, the batched QR factorisations of the GRU's orthogonal
    initialisers (a GRU of 64: smaller ones did not hang) deadlocked XLA:CPU's thread pool (jaxlib 0.10.2, 2 cores);
    a hang must fail, not stall."""
    code = f"""
import jaxmeta, jax, numpy as np
from jaxmeta.config import preset
from jaxmeta.train import make_train
tr = make_train(preset("rl2", **{dict(TOY, num_seeds=2, rl2=dict(gru=64, hidden=64))!r}))
batch = jax.block_until_ready(jax.jit(tr.init_batch)(tr.run_key()))
for i in range(2):
    one = jax.jit(tr.init)(tr.seed_key(i))
    for a, b in zip(jax.tree.leaves(one.agent), jax.tree.leaves(batch.agent)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[i])
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]
