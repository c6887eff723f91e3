"""PEARL in the trainer (``--algo pearl``, jaxmeta.agents.pearl.train) on the toy env: the per-task replay by
hand, each task's ring holds only that task's transitions, z comes from the prior at a task's start and
from the posterior after its first episode, PEARL learns, a resumed run equals an uninterrupted one,
meta-testing is the trainer's evaluation, and bad options fail before compiling."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxmeta import cli
from jaxmeta.agents.pearl.encoder import posterior_from_sums, product_of_gaussians
from jaxmeta.agents.pearl.task_replay import make_task_replay
from jaxmeta.checkpoint import latest_step
from jaxmeta.config import preset
from jaxmeta.train import make_train, train
from tests.jaxmeta.run_helpers import assert_cli_error, forbid_training, metrics_rows, restore_full_state

TOY = dict(
    benchmark="toy/2",
    envs_per_skill=4,
    max_path_length=10,
    total_steps=480,
    warmup_steps=80,
    chunk_steps=80,  # one episode of every env per chunk
    batch_size=32,
    buffer_capacity=4000,
    eval_episodes=4,
    eval_every=160,
    checkpoint_every=160,
    keep_checkpoints=3,
    network=dict(hidden=(32, 32)),
    pearl=dict(meta_batch=4, context_batch=8, encoder_hidden=(16,), latent_dim=2),
)


def pearl_cfg(**kw):
    return preset("pearl", **{**TOY, **kw})


# ------------------------------------------------------------------------------------ the task replay
@pytest.mark.parametrize("jit", [False, True])
def test_task_replay_add_by_hand(jit):
    r = make_task_replay(num_tasks=3, capacity=4)
    add = jax.jit(r.add) if jit else r.add
    s = r.init(jnp.zeros((), jnp.float32))
    # rows 0, 2, 3 go to task 1 (consecutive slots in row order), row 1 to task 0; row 4 is invalid
    s = add(s, jnp.array([1, 0, 1, 1, 2]), jnp.array([10.0, 20.0, 11.0, 12.0, 99.0]), jnp.array([1, 1, 1, 1, 0], bool))
    np.testing.assert_array_equal(s.count, [1, 3, 0])
    np.testing.assert_array_equal(s.ptr, [1, 3, 0])
    np.testing.assert_array_equal(s.storage[1], [10.0, 11.0, 12.0, 0.0])
    np.testing.assert_array_equal(s.storage[0], [20.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(s.storage[2], [0.0, 0.0, 0.0, 0.0])  # the invalid row was dropped
    s = add(s, jnp.array([1, 1]), jnp.array([13.0, 14.0]), jnp.array([True, True]))  # task 1's ring wraps
    np.testing.assert_array_equal(s.count, [1, 4, 0])
    np.testing.assert_array_equal(s.ptr, [1, 1, 0])
    np.testing.assert_array_equal(s.storage[1], [14.0, 11.0, 12.0, 13.0])


def test_task_replay_samples_tasks_with_data_and_context_from_their_newest():
    r = make_task_replay(num_tasks=4, capacity=8)
    s = r.init(jnp.zeros((), jnp.float32))
    for v in range(10):  # task 2: values 0..9, the ring keeps 2..9; task 0: 100..102
        s = r.add(s, jnp.array([2]), jnp.array([float(v)]), jnp.array([True]))
    for v in range(3):
        s = r.add(s, jnp.array([0]), jnp.array([100.0 + v]), jnp.array([True]))
    task, batch, ctx = jax.jit(r.sample, static_argnums=(2, 3, 4, 5))(s, jax.random.PRNGKey(0), 64, 16, 16, 3)
    task, batch, ctx = map(np.asarray, (task, batch, ctx))
    assert set(task.tolist()) == {0, 2}  # tasks 1 and 3 hold nothing
    for t, b, c in zip(task, batch, ctx):
        held = set(range(2, 10)) if t == 2 else {100.0, 101.0, 102.0}
        newest = {7.0, 8.0, 9.0} if t == 2 else {100.0, 101.0, 102.0}
        assert set(b.tolist()) <= held and set(c.tolist()) <= newest
    assert set(batch[task == 2].ravel().tolist()) == set(map(float, range(2, 10)))  # uniform over the held ones


@given(
    calls=st.lists(
        st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=4), min_size=1, max_size=6
    ),
    capacity=st.integers(4, 6),
)
def test_task_replay_keeps_each_tasks_newest_rows_in_order(calls, capacity):
    """Property: after any sequence of adds (capacity >= rows per call), each task's ring holds that task's
    last `capacity` valid rows, oldest first from ``ptr - count`` (a Python list per task as reference)."""
    r = make_task_replay(num_tasks=3, capacity=capacity)
    add = jax.jit(r.add)
    s = r.init(jnp.zeros((), jnp.float32))
    ref: dict[int, list[float]] = {0: [], 1: [], 2: []}
    value = 0.0
    for call in calls:
        tasks = [t for t, _ in call]
        valid = [v for _, v in call]
        rows = [value + i for i in range(len(call))]
        value += len(call)
        s = add(s, jnp.array(tasks), jnp.array(rows, jnp.float32), jnp.array(valid))
        for t, v, x in zip(tasks, valid, rows):
            if v:
                ref[t].append(x)
    for t in range(3):
        want = ref[t][-capacity:]
        assert int(s.count[t]) == len(want)
        held = [float(s.storage[t][(int(s.ptr[t]) - len(want) + i) % capacity]) for i in range(len(want))]
        assert held == want


@given(seed=st.integers(0, 2**16), n=st.integers(1, 6))
def test_posterior_sums_equal_the_product_and_shrink_the_variance(seed, n):
    """Property: accumulating factors one at a time gives `product_of_gaussians` of them all, in any order,
    and the posterior variance is below every factor's."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n, 3)).astype(np.float32)
    var = rng.uniform(0.05, 3.0, size=(n, 3)).astype(np.float32)
    m, v = product_of_gaussians(jnp.asarray(mu), jnp.asarray(var))
    prec, wmu = np.zeros(3, np.float32), np.zeros(3, np.float32)
    for i in rng.permutation(n):
        prec, wmu = prec + 1.0 / var[i], wmu + mu[i] / var[i]
    m2, v2 = posterior_from_sums(jnp.asarray(prec), jnp.asarray(wmu))
    np.testing.assert_allclose(m2, m, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(v2, v, rtol=1e-5)
    assert bool(np.all(np.asarray(v) <= var.min(axis=0) * (1 + 1e-6)))


def test_posterior_from_sums_is_the_product_of_the_factors():
    mu, var = jnp.array([[0.0, 1.0], [2.0, 1.0]]), jnp.array([[1.0, 0.5], [1.0, 0.25]])
    m, v = posterior_from_sums(jnp.sum(1.0 / var, 0), jnp.sum(mu / var, 0))
    np.testing.assert_allclose(v, [0.5, 1.0 / 6.0], rtol=1e-6)
    np.testing.assert_allclose(m, [1.0, 1.0], rtol=1e-6)
    m0, v0 = posterior_from_sums(jnp.zeros(2), jnp.zeros(2))
    np.testing.assert_array_equal(m0, [0.0, 0.0])
    np.testing.assert_array_equal(v0, [1.0, 1.0])


# ------------------------------------------------------------------------------------ the loop
def test_each_task_ring_holds_that_task_and_z_follows_the_posterior():
    cfg = pearl_cfg()
    tr = make_train(cfg)
    chunk = jax.jit(tr.chunk)
    ts0 = tr.init(tr.seed_key(0))
    assert bool(ts0.loop_state.fresh.all())
    ts1, m1 = chunk(ts0)  # every env finished its task's first episode: same task, z from the posterior
    np.testing.assert_array_equal(ts1.env.task_index[0], ts0.env.task_index[0])
    b = ts1.loop_state
    assert not bool(b.fresh.any()) and bool((b.episodes == 1).all()) and bool((b.precision > 0).all())
    assert float(m1["finished"]) == 0.0  # statistics count tasks: none finished yet
    ts2, m2 = chunk(ts1)  # the task ends: sums cleared, the next step draws z from the prior
    assert float(m2["finished"]) == cfg.num_envs and int(m2["episodes"]) == 2 * cfg.num_envs
    assert bool(ts2.loop_state.fresh.all()) and float(jnp.abs(ts2.loop_state.precision).max()) == 0.0
    # every stored transition of task (skill s, row t) shows that task's goal (the toy obs [36:39])
    goals = np.concatenate([np.asarray(g) for g in tr.env.tasks])  # (100, 3), skill-major like the task ids
    count, obs = np.asarray(ts2.replay.count), np.asarray(ts2.replay.storage.obs)
    assert count.sum() == 2 * cfg.num_envs * cfg.max_path_length
    for t in np.flatnonzero(count):
        np.testing.assert_allclose(obs[t, : count[t], 36:39], np.broadcast_to(goals[t], (count[t], 3)), atol=1e-6)
    assert set((np.flatnonzero(count) // 50).tolist()) == {0, 1}  # both skills' tasks, by their own ids


def test_pearl_learns_the_toy_env():
    cfg = pearl_cfg(envs_per_skill=8, max_path_length=20, chunk_steps=3200, warmup_steps=640, total_steps=16000)
    cfg = cfg.replace(
        eval_episodes=16, batch_size=128, updates_per_step=4, sac=dict(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3)
    )
    tr = make_train(cfg)
    run = jax.jit(tr.run, static_argnums=2)
    ts = tr.init(tr.seed_key(0))
    before = run(ts, jax.random.PRNGKey(1), True)[2]
    for _ in range(5):
        ts, m, _ = run(ts, jnp.zeros(2, jnp.uint32), False)
    after = run(ts, jax.random.PRNGKey(1), True)[2]
    assert float(after["return"]) > float(before["return"]) + 10.0  # task return (2 x 20 steps, reward <= 1)
    assert float(after["success"]) > float(before["success"])
    assert np.isfinite(float(m["kl"])) and float(m["nonfinite_update"]) == 0.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("pearl")
    a, b = base / "a", base / "b"
    sa = train(pearl_cfg(out=str(a)), progress=False)
    train(pearl_cfg(out=str(b)), progress=False, max_chunks=2)
    assert latest_step(b) == 160
    sb = train(pearl_cfg(out=str(b)), progress=False, resume=True)
    return a, b, sa, sb


def test_resume_equals_uninterrupted(runs):
    a, b, sa, sb = runs
    assert sa["completed"] and sb["completed"] and sb["resumed_from_chunk"] == 2
    assert metrics_rows(a) == metrics_rows(b)
    assert any(r["kind"] == "train" and r["kl"] not in ("", "nan") for r in metrics_rows(a))
    sta, _ = restore_full_state(a, pearl_cfg(out=str(a)))
    stb, _ = restore_full_state(b, pearl_cfg(out=str(b)))
    jax.tree.map(np.testing.assert_array_equal, sta, stb)


def test_meta_test_is_the_trainers_evaluation_of_the_policy(runs, capsys):
    """`meta_test` (what ``jaxmeta eval`` runs for PEARL) from the policy export equals the trainer's own
    evaluation of the checkpointed state with the same key; ``jaxmeta eval`` prints it per skill."""
    from jaxmeta.checkpoint import restore_policy
    from jaxmeta.meta_test import meta_test
    from jaxmeta.programs import compile_programs

    a = runs[0]
    cfg = pearl_cfg(out=str(a))
    state, _ = restore_full_state(a, cfg)
    programs = compile_programs(make_train(cfg))
    _, want = programs.evaluate(state, jax.random.PRNGKey(3))
    got = meta_test(restore_policy(a), cfg, split="train", seed=3)
    np.testing.assert_array_equal(got["success_per_skill"], want["success_per_skill"])
    np.testing.assert_allclose(got["return_per_skill"], want["return_per_skill"], rtol=1e-6)
    assert cli.main(["eval", str(a), "--episodes", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "trial(s) of 2 episodes per skill" in out and "pearl" in out and "toy-1" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--algo", "pearl", "--balanced"],
            r"TrainConfig\.balanced=True: algo 'pearl' samples its own per-task replay",
        ),
        (["--algo", "pearl", "--batch-size", "1020"], r"batch_size 1020 does not split into pearl\.meta_batch = 8"),
        (
            ["--algo", "pearl", "--buffer-capacity", "500"],
            r"buffer_capacity 500 over the run's 50 tasks leaves 10 transitions per task, fewer than the 16 envs",
        ),
        (["--algo", "pearl", "--latent-dim", "0"], r"PEARLOptions\.latent_dim must be a positive int, got 0"),
    ],
)
def test_bad_pearl_options_fail_before_compiling(argv, message, capsys, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    assert_cli_error(["train", *argv, "--out", str(tmp_path / "r")], message, capsys)


def test_algo_pearl_starts_from_its_preset():
    args = ["train", "--algo", "pearl", "--meta-batch", "4", "--episodes-per-task", "3", "--lr", "1e-3"]
    cfg = cli.build_config(cli.parser().parse_args(args))
    assert cfg.benchmark == "ML1/reach-v3" and cfg.replay_kind == "per-task"
    assert cfg.pearl.meta_batch == 4 and cfg.reptile.meta_batch == preset("default").reptile.meta_batch
    assert cfg.pearl.episodes_per_task == 3 and cfg.eval_episode_steps == 3 * cfg.max_path_length
    assert cfg.sac.actor_lr == 1e-3
