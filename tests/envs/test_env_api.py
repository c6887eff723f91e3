"""The envs API: make/benchmark names, shapes, jit/vmap, bad input, auto-reset of the batched env."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.multitask import make_multitask


def test_unknown_skill_lists_valid_names():
    with pytest.raises(ValueError, match="reach-v3"):
        envs.make("reach-v9")


def test_unported_skill_says_not_ported(monkeypatch):
    import envs.skills as registry

    monkeypatch.delitem(registry._MODULES, "hammer-v3", raising=False)  # a Meta-World skill without a port
    with pytest.raises(NotImplementedError, match="'hammer-v3' is a Meta-World skill but is not ported"):
        registry.get_skill("hammer-v3")


def test_unverified_skill_names_its_module(monkeypatch):
    import envs.skills as registry

    monkeypatch.delitem(registry._MODULES, "reach-v3")
    monkeypatch.setitem(registry.UNVERIFIED, "reach-v3", "envs.skills.reach")
    with pytest.raises(NotImplementedError, match=r"envs\.skills\.reach\) that does not pass the metaworld fidelity"):
        registry.get_skill("reach-v3")


def test_unknown_benchmark_lists_valid_names():
    with pytest.raises(ValueError, match="MT10"):
        envs.benchmark("MT11")


def test_unknown_scene_option():
    with pytest.raises(ValueError, match="iterations"):
        envs.make("reach-v3", iteratons=3)


@pytest.fixture(scope="module")
def reach():
    env = envs.make("reach-v3")
    tasks = envs.benchmark("MT1/reach-v3").train_tasks["reach-v3"]
    return env, jnp.asarray(tasks)


def test_shapes_and_dtypes(reach):
    env, tasks = reach
    s = jax.jit(env.reset)(None, tasks[0])
    assert s.obs.shape == (39,) and s.obs.dtype == jnp.float32
    assert {"success", "truncated", "physics_nan", "nonfinite_action"} <= set(s.info)
    np.testing.assert_allclose(np.asarray(s.obs[36:39]), np.asarray(tasks[0][3:]), atol=1e-6)


def test_partially_observable_hides_goal():
    env = envs.make("reach-v3", partially_observable=True)
    tasks = envs.benchmark("MT1/reach-v3").train_tasks["reach-v3"]
    s = jax.jit(env.reset)(None, jnp.asarray(tasks[0]))
    assert np.all(np.asarray(s.obs[36:39]) == 0)


def test_wrong_action_shape_is_a_clear_error(reach):
    env, tasks = reach
    s = env.reset(None, tasks[0])
    with pytest.raises(ValueError, match=r"action must have shape \(4,\)"):
        env.step(s, jnp.zeros(3))


def test_wrong_rand_vec_shape_is_a_clear_error(reach):
    env, _ = reach
    with pytest.raises(ValueError, match="rand_vec"):
        env.reset(None, jnp.zeros(5))


def test_batched_env_autoreset_nan_actions_and_truncation():
    bench = envs.benchmark("MT1/reach-v3")
    menv = make_multitask(bench, envs_per_skill=4, max_path_length=3)
    s = jax.jit(menv.reset)(jax.random.key(0))
    step = jax.jit(menv.step)
    a = jnp.zeros((4, 4)).at[0, 1].set(jnp.nan).at[1].set(jnp.inf)
    s = step(s, a)
    np.testing.assert_array_equal(np.asarray(s.nonfinite_action), [1, 4, 0, 0])
    assert bool(jnp.all(jnp.isfinite(s.obs)))
    assert not bool(s.done.any())
    s = step(s, jnp.zeros((4, 4)))
    s = step(s, jnp.zeros((4, 4)))
    assert bool(s.done.all()) and bool(s.truncated.all())
    # auto-reset: the next obs is a fresh episode (both frames equal), final_obs is the last step's
    np.testing.assert_allclose(np.asarray(s.obs[:, :18]), np.asarray(s.obs[:, 18:36]))
    assert int(s.groups[0].steps.max()) == 0
    # the fresh episodes are the reset pool's rows of the newly drawn tasks, and a pool row is the env's reset
    pool = s.reset_pool[0]
    np.testing.assert_array_equal(np.asarray(s.obs), np.asarray(pool.obs)[np.asarray(s.task_index[0])])
    tasks = bench.train_tasks["reach-v3"]
    single = envs.make("reach-v3", max_path_length=3).reset(None, tasks[7])
    np.testing.assert_allclose(np.asarray(pool.obs[7]), np.asarray(single.obs), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(pool.task["rand_vec"]), tasks.astype(np.float32))
    with pytest.raises(ValueError, match="actions must have shape"):
        menv.step(s, jnp.zeros((3, 4)))
    # restart (meta-RL trials): masked rows start their given task again from the pool, the others stay
    s1 = step(s, jnp.full((4, 4), 0.5))
    keep = (jnp.array([5, 7, 9, 11], jnp.int32),)
    r = jax.jit(menv.restart)(s1, jnp.array([True, False, True, False]), keep)
    np.testing.assert_array_equal(
        np.asarray(r.task_index[0]), [5, np.asarray(s1.task_index[0])[1], 9, np.asarray(s1.task_index[0])[3]]
    )
    np.testing.assert_array_equal(np.asarray(r.obs)[[0, 2]], np.asarray(pool.obs)[[5, 9]])
    np.testing.assert_array_equal(np.asarray(r.obs)[[1, 3]], np.asarray(s1.obs)[[1, 3]])
    assert [int(x) for x in r.groups[0].steps] == [0, 1, 0, 1]
    np.testing.assert_array_equal(np.asarray(r.reward), np.asarray(s1.reward))  # the step's outputs stay


def test_physics_nan_is_contained(reach):
    env, tasks = reach
    s = env.reset(None, tasks[0])
    bad = s.replace(data=s.data.replace(qvel=s.data.qvel.at[0].set(jnp.nan)))
    out = jax.jit(env.step)(bad, jnp.zeros(4))
    assert float(out.info["physics_nan"]) == 1.0 and bool(out.done)
    assert bool(jnp.all(jnp.isfinite(out.obs)))


def test_shared_physics_groups_join_identical_models_only():
    from envs.multitask import shared_physics_groups

    names = ("window-open-v3", "reach-v3", "window-close-v3", "push-v3", "pick-place-v3")
    groups, fields = shared_physics_groups([envs.make(s) for s in names])
    # window-open/close compile to one model; push and pick-place too, but for the goal site's position;
    # reach shares push's XML but not its contact pairs (another graph)
    assert groups == ((0, 2), (1,), (3, 4))
    # per instance: the window body (moved by the window skills' resets), each skill's own goal site
    assert fields == (("body_pos",), (), ("site_pos",))


def test_reset_pool_shape_is_the_traced_pools_shape():
    """`reset_pool_shape` (traced without the forward pass) equals `eval_shape(reset_pool)`: a family of
    three skills and a skill alone, so both of group_reset_pool's branches."""
    bench = envs.benchmark("MT10")
    menv = make_multitask(bench, envs_per_skill=2, skills=["reach-v3", "push-v3", "pick-place-v3", "door-open-v3"])
    assert menv.num_physics_groups == 2
    expected, got = jax.eval_shape(menv.reset_pool), menv.reset_pool_shape()
    assert jax.tree.structure(got) == jax.tree.structure(expected)
    for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        assert (g.shape, g.dtype, g.weak_type) == (e.shape, e.dtype, e.weak_type)


def test_placement_functions_must_belong_to_the_envs():
    """A MultiTaskEnv whose envs were replaced cannot keep the old envs' jitted placements."""
    import dataclasses

    menv = make_multitask(envs.benchmark("MT10"), envs_per_skill=1, skills=["reach-v3", "push-v3"])
    swapped = tuple(reversed(menv.envs))
    with pytest.raises(ValueError, match="place_fns"):
        dataclasses.replace(menv, envs=swapped)
    assert dataclasses.replace(menv, envs=swapped, place_fns=None).place_fns is None


def test_shared_physics_steps_like_separate_physics():
    """Two groups of one skill stepped through one shared physics call equal the unshared env."""
    bench = envs.benchmark("MT1/reach-v3")
    shared = make_multitask(bench, envs_per_skill=2, skills=["reach-v3", "reach-v3"], max_path_length=3)
    alone = make_multitask(
        bench, envs_per_skill=2, skills=["reach-v3", "reach-v3"], max_path_length=3, share_physics=False
    )
    assert shared.physics_groups == ((0, 1),) and alone.physics_groups is None
    key = jax.random.key(3)
    a = jax.random.uniform(jax.random.key(4), (4, 4), minval=-1.0, maxval=1.0)
    outs = []
    for menv in (shared, alone):
        s, step = jax.jit(menv.reset)(key), jax.jit(menv.step)
        for _ in range(4):  # crosses an auto-reset (max_path_length 3)
            s = step(s, a)
        outs.append(s)
    np.testing.assert_allclose(np.asarray(outs[0].obs), np.asarray(outs[1].obs), atol=1e-5)
    np.testing.assert_allclose(np.asarray(outs[0].final_obs), np.asarray(outs[1].final_obs), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(outs[0].done), np.asarray(outs[1].done))


def test_split_env_equals_the_single_module_env():
    """SplitMultiTaskEnv (one executable per physics group, compiled ahead of time on 2 threads) resets and
    steps like the one-module MultiTaskEnv, across an auto-reset."""
    from envs.split import SplitMultiTaskEnv

    bench = envs.benchmark("MT1/reach-v3")
    menv = make_multitask(bench, envs_per_skill=2, skills=["reach-v3", "reach-v3"], max_path_length=3)
    split = SplitMultiTaskEnv(menv)
    assert split.physics_groups == ((0, 1),) and split.num_envs == 4
    done = []
    timings = split.compile(workers=2, on_done=lambda name, rec: done.append(name))
    assert set(timings) == set(done) == {"pool0", "step0", "start", "finish"}
    assert all(r["compile_s"] > 0 for r in timings.values())
    key = jax.random.key(3)
    a = jax.random.uniform(jax.random.key(4), (4, 4), minval=-1.0, maxval=1.0)
    s1, s2 = jax.jit(menv.reset)(key), split.reset(key)
    step = jax.jit(menv.step)
    for i in range(4):  # crosses an auto-reset (max_path_length 3)
        s1, s2 = step(s1, a), split.step(s2, a)
        assert bool(s2.done.all()) == (i == 2)
    for f in ("obs", "final_obs", "reward"):
        np.testing.assert_allclose(np.asarray(getattr(s1, f)), np.asarray(getattr(s2, f)), atol=1e-5, err_msg=f)
    for f in ("done", "success", "episode_success", "skill_id"):
        np.testing.assert_array_equal(np.asarray(getattr(s1, f)), np.asarray(getattr(s2, f)), err_msg=f)
    for i1, i2 in zip(s1.task_index, s2.task_index):
        np.testing.assert_array_equal(np.asarray(i1), np.asarray(i2))
    with pytest.raises(ValueError, match=r"actions must have shape \(4, 4\), got \(3, 4\)"):
        split.step(s2, jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        split.compile(workers=0)
    with pytest.raises(ValueError, match=r"key has shape \(2,\) and dtype uint32.*same kind of key"):
        split.reset(jax.random.PRNGKey(0))  # compile built the reset for a typed key


def test_split_env_refuses_to_exceed_the_memory_map_limit(monkeypatch):
    """On XLA:CPU every executable maps its kernels; past Linux's vm.max_map_count the compile crashes, so the
    split env raises first (before any compile), naming the limit and the fix."""
    import envs.split as split_mod

    if split_mod.jax.default_backend() != "cpu" or not __import__("os").path.exists("/proc/sys/vm/max_map_count"):
        pytest.skip("the limit is a Linux XLA:CPU one")
    menv = make_multitask(envs.benchmark("MT1/reach-v3"), envs_per_skill=2)
    monkeypatch.setattr(split_mod, "CPU_MAPS_PER_EXECUTABLE", 10**9)
    split = split_mod.SplitMultiTaskEnv(menv)
    assert split.num_executables == 4
    with pytest.raises(
        RuntimeError,
        match=r"4 XLA:CPU executables need about 4,000,000,000 memory mappings.*"
        r"vm\.max_map_count",
    ):
        split.compile()
    with pytest.raises(RuntimeError, match="vm.max_map_count"):
        split.reset(jax.random.key(0))
    unchecked = split_mod.SplitMultiTaskEnv(menv, check_map_count=False)
    unchecked._check_maps()  # no error: the check is off


@pytest.mark.parametrize("skill", __import__("envs.skills", fromlist=["ported_skills"]).ported_skills())
def test_every_ported_skill_traces(skill):
    """Every registered skill builds its scene and traces reset + step to the env's shapes (no compile:
    the fidelity checks of the skills outside the fast set run under -m slow)."""
    env = envs.make(skill)
    tasks = envs.benchmark(f"MT1/{skill}").train_tasks[skill]
    assert tasks.shape == (50, env.rand_vec_size)
    state = jax.eval_shape(env.reset, None, jax.ShapeDtypeStruct((env.rand_vec_size,), jnp.float32))
    out = jax.eval_shape(env.step, state, jax.ShapeDtypeStruct((4,), jnp.float32))
    assert out.obs.shape == (39,) and out.reward.shape == () and out.done.dtype == jnp.bool_
    assert set(out.info) == set(envs.sawyer.INFO_KEYS)
    assert "target_pos" in out.task and out.task["target_pos"].shape == (3,)


#: mjx.Data fields a forward pass computes but kinematics does not (measured on pick-place: fields that
#: mjx.kinematics leaves unchanged and mjx.forward changes). After a kinematics-only post-step pass they
#: hold the last substep's values, so a skill whose observation or reward reads one needs_contacts.
FORWARD_ONLY = (
    "qacc",
    "cam_xpos",
    "cam_xmat",
    "subtree_com",
    "cvel",
    "cdof",
    "cdof_dot",
    "qfrc_",
    "actuator_",
    "qacc_smooth",
    "_impl.",
)


def _live_inputs(fn, args) -> list[bool]:
    """Per positional arg of fn: does any output of fn depend on it (backward liveness over the jaxpr;
    an equation with a live output keeps all its inputs live, so nested calls count conservatively)."""
    from jax.extend.core import Literal

    closed = jax.make_jaxpr(fn)(*args)
    live = {v for v in closed.jaxpr.outvars if not isinstance(v, Literal)}
    for eqn in reversed(closed.jaxpr.eqns):
        if any(o in live for o in eqn.outvars):
            live.update(v for v in eqn.invars if not isinstance(v, Literal))
    return [v in live for v in closed.jaxpr.invars]


@pytest.mark.parametrize("skill", __import__("envs.skills", fromlist=["ported_skills"]).ported_skills())
def test_needs_contacts_flag_matches_what_the_step_reads(skill):
    """A skill without needs_contacts gets a kinematics-only pass after its physics (envs.sawyer.physics_step):
    its observation and reward must read no forward-only data (contacts, constraint forces, ...)."""
    env = envs.make(skill)
    rv = jax.ShapeDtypeStruct((env.rand_vec_size,), jnp.float32)
    state = jax.eval_shape(env.reset, None, rv)
    paths, leaves = zip(*jax.tree_util.tree_flatten_with_path(state.data)[0])
    treedef = jax.tree_util.tree_structure(state.data)
    names = [jax.tree_util.keystr(p).lstrip(".") for p in paths]

    def outputs(state, *data_leaves):
        data = jax.tree_util.tree_unflatten(treedef, data_leaves)
        out = env.finish_step(state, jnp.zeros(4), jnp.zeros(()), data)
        return out.obs, out.reward, out.info

    live = _live_inputs(outputs, (state,) + leaves)[len(jax.tree.leaves(state)) :]
    read = {n for n, used in zip(names, live) if used and n.startswith(FORWARD_ONLY)}
    if env.skill.needs_contacts:
        assert read, f"{skill}: needs_contacts=True but the step reads no forward-only data (set it False)"
    else:
        assert not read, f"{skill}: reads {sorted(read)} after a kinematics-only pass: set needs_contacts=True"


def test_kinematics_only_post_pass_keeps_the_trajectory():
    """physics_step with post_forward=False returns the same state trajectory and positions as with the full
    forward (the next step recomputes everything from qpos / qvel / warm start)."""
    from envs.sawyer import physics_step

    env = envs.make("reach-v3")
    state = env.reset(None, envs.benchmark("MT1/reach-v3").train_tasks["reach-v3"][0])
    lo, hi = env.skill.mocap_bounds

    @jax.jit
    def rollout(data, post):
        def body(d, a):
            d = jax.lax.cond(
                post,
                lambda d: physics_step(env.sim.mx, d, a, {}, lo, hi, 5, True),
                lambda d: physics_step(env.sim.mx, d, a, {}, lo, hi, 5, False),
                d,
            )
            return d, (d.qpos, d.site_xpos, d.xquat)

        return jax.lax.scan(body, data, jnp.tile(jnp.asarray([1.0, -0.5, 0.3, 1.0]), (3, 1)))[1]

    full, kin = rollout(state.data, True), rollout(state.data, False)
    for a, b in zip(full, kin):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
