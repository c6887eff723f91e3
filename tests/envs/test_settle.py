"""Per-task settle tables (envs.settle.task_settled_states) and their lookup at reset (task_settle.from_table)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import reference
from envs.multitask import make_multitask
from envs.settle import TASK_SETTLE_FIELDS, task_settled_states
from envs.skills.task_settle import from_table

SKILL = "door-lock-v3"


def _tasks(n):
    return envs.benchmark(f"MT1/{SKILL}", seed=0).train_tasks[SKILL][:n]


def _metaworld_settle(rand_vec):
    """The state after metaworld's last reset settle, captured from a fresh env (envs.reference)."""
    env = reference.make_metaworld_env(SKILL, rand_vec)
    captured = []
    original = env._reset_hand

    def capture(*a, **k):
        original(*a, **k)
        captured.append((env.data.qpos.copy(), env.data.qvel.copy(), np.array(env.tcp_center)))

    env._reset_hand = capture
    env.reset()
    return captured[-1]


def test_table_is_metaworlds_settle_per_task():
    tasks = _tasks(3)
    table = task_settled_states(SKILL, tasks)
    assert table["rand_vec"].dtype == np.float32 and table["rand_vec"].shape == tasks.shape
    for k in TASK_SETTLE_FIELDS:
        assert table[k].shape[0] == 3, k
    for i, rv in enumerate(tasks):
        qpos, qvel, tcp = _metaworld_settle(rv)
        np.testing.assert_array_equal(table["qpos"][i], qpos)
        np.testing.assert_array_equal(table["qvel"][i], qvel)
        np.testing.assert_array_equal(table["init_tcp"][i], tcp)
    # the settle does depend on the task here (the claw hits the lock on some of them)
    assert np.abs(table["qpos"][0] - table["qpos"][1]).max() > 1e-3


def test_table_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(5,\)"):
        task_settled_states(SKILL, np.zeros(5))
    with pytest.raises(ValueError, match="rand_vecs must have shape"):
        task_settled_states(SKILL, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="door-lock-v9"):
        task_settled_states("door-lock-v9", np.zeros((1, 3)))


def test_make_builds_table_only_for_task_dependent_settles():
    tasks = _tasks(2)
    env = envs.make(SKILL, settle_tasks=tasks)
    assert env.skill.settle_body == "door"
    np.testing.assert_array_equal(env.sim.settle_table["rand_vec"], tasks.astype(np.float32))
    assert envs.make(SKILL, settle_tasks=tasks) is env  # cached by value
    assert envs.make(SKILL).sim.settle_table is None
    reach_tasks = envs.benchmark("MT1/reach-v3").train_tasks["reach-v3"]
    assert envs.make("reach-v3", settle_tasks=reach_tasks) is envs.make("reach-v3")  # ignored: no settle_body
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        envs.make(SKILL, settle_tasks=tasks[0])


def test_make_multitask_owns_settle_tasks():
    with pytest.raises(ValueError, match="settle_tasks"):
        make_multitask(envs.benchmark("MT1/reach-v3"), settle_tasks=np.zeros((1, 3)))


@pytest.mark.parametrize("jit", [False, True])
def test_from_table_replaces_matching_rows_only(jit):
    table = {"rand_vec": np.array([[0.1, 0.2], [0.3, 0.4]], np.float32),
             "qpos": np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])}
    fields = {"qpos": jnp.full((3,), -1.0, jnp.float32)}
    if jit:
        fn = jax.jit(lambda rv, f, e: from_table(table, rv, f, e))
    else:
        fn = lambda rv, f, e: from_table(table, rv, f, e)  # noqa: E731
    out, exact = fn(np.array([0.3, 0.4], np.float64), fields, jnp.asarray(False))
    np.testing.assert_array_equal(out["qpos"], [2.0, 2.0, 2.0])
    assert bool(exact)
    out, exact = fn(jnp.asarray([0.3, 0.41]), fields, jnp.asarray(False))  # not in the table: unchanged
    np.testing.assert_array_equal(out["qpos"], [-1.0, -1.0, -1.0])
    assert not bool(exact)
    out, exact = fn(jnp.asarray([0.3, 0.41]), fields, jnp.asarray(True))  # exactness of the fallback kept
    assert bool(exact)
    assert from_table(None, jnp.zeros(2), fields, jnp.asarray(False))[0] is fields


def test_skill_settle_is_deterministic_and_leaves_numpy_rng_alone():
    from envs.settle import settled_state

    np.random.seed(7)
    expected = np.random.random(3)
    np.random.seed(7)
    a = settled_state.__wrapped__("reach-v3")
    b = settled_state.__wrapped__("reach-v3")
    np.testing.assert_array_equal(np.random.random(3), expected)
    for k in ("qpos", "qvel", "init_tcp"):
        np.testing.assert_array_equal(a[k], b[k])
