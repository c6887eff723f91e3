"""Per-skill settle tables (envs.settle.task_settled_states) and their lookup at reset (task_settle.from_table)."""

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


def test_table_is_metaworlds_settle_per_skill():
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


def test_placed_rows_are_metaworlds_state_at_placement():
    """placed=True (box-close: reset_model steps the physics 5 times between its settle and `_set_obj_xyz`)."""
    skill = "box-close-v3"
    tasks = envs.benchmark(f"MT1/{skill}", seed=0).train_tasks[skill][:2]
    table = task_settled_states(skill, tasks, placed=True)
    for i, rv in enumerate(tasks):
        env = reference.make_metaworld_env(skill, rv)
        captured = []
        original = env._set_obj_xyz

        def capture(*a, **k):
            captured.append((env.data.qpos.copy(), env.data.qvel.copy()))
            return original(*a, **k)

        env._set_obj_xyz = capture
        env.reset()
        np.testing.assert_array_equal(table["placed_qpos"][i], captured[-1][0])
        np.testing.assert_array_equal(table["placed_qvel"][i], captured[-1][1])
        assert np.abs(table["placed_qpos"][i] - table["qpos"][i]).max() > 0  # 5 steps after the settle
    assert "placed_qpos" not in task_settled_states(skill, tasks[:1])


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
    table = {
        "rand_vec": np.array([[0.1, 0.2], [0.3, 0.4]], np.float32),
        "qpos": np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]),
    }
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


def _primitives(jaxpr, out=None) -> list:
    """(primitive name, scan length or None, the lengths of the scans directly inside it) of every equation
    of a jaxpr, sub-jaxprs included."""
    out = [] if out is None else out
    for eqn in jaxpr.eqns:
        inner_scans = []
        for v in eqn.params.values():
            for sub in v if isinstance(v, (tuple, list)) else (v,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    inner_scans += [e.params.get("length") for e in inner.eqns if e.primitive.name == "scan"]
                    _primitives(inner, out)
        out.append((eqn.primitive.name, eqn.params.get("length"), tuple(inner_scans)))
    return out


def _settle_scans(fn, *args) -> int:
    """How many simulated hand settles fn traces: scans of SETTLE_STEPS env steps of FRAME_SKIP substeps."""
    from envs.sawyer import FRAME_SKIP
    from envs.skills.task_settle import SETTLE_STEPS

    prims = _primitives(jax.make_jaxpr(fn)(*args).jaxpr)
    return sum(p == "scan" and n == SETTLE_STEPS and FRAME_SKIP in inner for p, n, inner in prims)


def test_multitask_reset_traces_no_simulated_settle():
    """The benchmark's tasks are exactly the settle table's, so the multi-task env's resets read the table
    only: no simulated settle is traced (the single env keeps it as the fallback for other tasks)."""
    bench = envs.benchmark(f"MT1/{SKILL}")
    menv = make_multitask(bench, envs_per_skill=2)
    assert menv.envs[0].sim.settle_table_only
    key = jax.random.key(0)
    assert _settle_scans(menv.reset, key) == 0
    single = envs.make(SKILL, settle_tasks=bench.train_tasks[SKILL])
    rv = jnp.asarray(bench.train_tasks[SKILL][0], jnp.float32)
    assert _settle_scans(single.reset, None, rv) == 1
    # the step's auto-reset gathers the reset pool: no reset physics (no settle, no cond)
    state = jax.eval_shape(menv.reset, key)
    assert _settle_scans(menv.step, state, jnp.zeros((2, 4))) == 0
    assert "cond" not in [p for p, _, _ in _primitives(jax.make_jaxpr(menv.step)(state, jnp.zeros((2, 4))).jaxpr)]
    assert jax.tree.leaves(state.reset_pool[0])[0].shape[0] == 50


@pytest.mark.parametrize("jit", [False, True])
def test_table_only_settle_misses_give_nan(jit):
    """settle_table_only traces no fallback: a task missing from the table must not pass for a real reset."""
    import dataclasses

    from envs.skills.door_lock import HAND_INIT_POS
    from envs.skills.task_settle import hand_settle

    tasks = _tasks(2)
    env = envs.make(SKILL, settle_tasks=tasks[:1])
    sim = dataclasses.replace(env.sim, settle_table_only=True)
    data = env._settled_data()
    fn = lambda rv: hand_settle(sim, data, sim.mx, HAND_INIT_POS, "door", rv)  # noqa: E731
    fn = jax.jit(fn) if jit else fn
    hit, tcp_hit, exact_hit = fn(jnp.asarray(tasks[0], jnp.float32))
    np.testing.assert_allclose(np.asarray(hit.qpos), env.sim.settle_table["qpos"][0].astype(np.float32))
    assert bool(exact_hit) and bool(jnp.all(jnp.isfinite(tcp_hit)))
    miss, tcp_miss, exact_miss = fn(jnp.asarray(tasks[1], jnp.float32))
    assert not bool(exact_miss) and bool(jnp.all(jnp.isnan(miss.qpos))) and bool(jnp.all(jnp.isnan(tcp_miss)))
    with pytest.raises(ValueError, match="settle_table_only needs a settle_table"):
        hand_settle(
            dataclasses.replace(envs.make(SKILL).sim, settle_table_only=True),
            data,
            sim.mx,
            HAND_INIT_POS,
            "door",
            jnp.asarray(tasks[0], jnp.float32),
        )
