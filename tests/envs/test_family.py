"""Physics families (envs.family): lean scenes keep the stock dynamics, padded scenes keep each member's own
dynamics, families share one structure, and the multi-task env steps a family in one physics call."""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs import family
from envs.multitask import make_multitask, model_difference
from envs.scene import build_model
from envs.skills import get_skill, ported_skills


def _rollout(model: mujoco.MjModel, steps: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MuJoCo (C) rollout under random mocap moves and gripper controls: qpos per step, and per step the contacts
    that enter the constraints (MuJoCo also lists pairs beyond their margin, excluded: efc_address -1)."""
    data, rng = mujoco.MjData(model), np.random.default_rng(seed)
    mujoco.mj_forward(model, data)
    qpos, ncon = [], []
    for _ in range(steps):
        data.mocap_pos[0] = data.mocap_pos[0] + rng.uniform(-0.01, 0.01, 3)
        data.ctrl[:] = rng.uniform(-1.0, 1.0, model.nu)
        mujoco.mj_step(model, data)
        qpos.append(data.qpos.copy())
        ncon.append(int(np.sum(data.contact.efc_address[: data.ncon] >= 0)))
    return np.array(qpos), np.array(ncon)


@pytest.mark.parametrize("skill", ported_skills())
def test_lean_scene_has_the_stock_dynamics(skill):
    """Dropping visual geoms (inertias frozen first) leaves MuJoCo's trajectories bitwise unchanged."""
    cfg = get_skill(skill).scene
    stock, lean = build_model(cfg), family.padded_model(cfg)
    assert lean.nbody == stock.nbody and lean.nq == stock.nq and lean.npair == stock.npair
    assert lean.ngeom < stock.ngeom and lean.nmesh == 0
    np.testing.assert_array_equal(lean.body_mass, stock.body_mass)
    np.testing.assert_array_equal(lean.body_inertia, stock.body_inertia)
    q_stock, _ = _rollout(stock)
    q_lean, _ = _rollout(lean)
    np.testing.assert_array_equal(q_lean, q_stock)


MT50_FAMILIES = family.partition(tuple(envs.benchmark("MT50").train_skills))


@pytest.mark.parametrize("members", [f for f in MT50_FAMILIES if len(f) > 1], ids=lambda f: "+".join(f))
def test_padded_members_keep_their_own_dynamics(members):
    """Every member of every MT50 family, padded to the family template: one structure for all members
    (`model_difference` not None), no padding contact ever in the constraints, its own joints' trajectories
    (through `joint_maps`) equal to its lean scene's, and the template's dummy bodies at rest. (Members whose
    bodies the template reorders sum in another order: box-close, 8e-8 after 200 steps.)"""
    tmpl = family.template(members)
    models = {s: family.padded_model(get_skill(s).scene, tmpl) for s in members}
    first = mujoco_mjx_model(models[members[0]])
    for s in members:
        assert model_difference(first, mujoco_mjx_model(models[s])) is not None, s
        q_own, n_own = _rollout(family.padded_model(get_skill(s).scene))
        q_pad, n_pad = _rollout(models[s])
        qpos_map, _ = family.joint_maps(get_skill(s).scene, models[s])
        np.testing.assert_array_equal(n_pad, n_own, err_msg=f"{s}: contacts in the constraints")
        exact = np.array_equal(qpos_map, np.arange(len(qpos_map)))
        np.testing.assert_allclose(q_pad[:, qpos_map], q_own, atol=1e-9 if exact else 1e-6, err_msg=s)
        dummies = np.setdiff1d(np.arange(models[s].nq), qpos_map)
        assert np.abs(q_pad[:, dummies] - models[s].qpos0[dummies]).max(initial=0.0) < 1e-3, s


def mujoco_mjx_model(model):
    from mujoco import mjx

    return mjx.put_model(model)


def test_partition_of_the_benchmarks():
    """MT10 steps in 2 physics graphs (one per cone); MT50 and ML45 in far fewer than their skills; every family
    is a valid template and none allocates more than MAX_ROW_RATIO x the constraint rows or the degrees of
    freedom of its costliest member. Without joint padding MT10 needs 4."""
    mt10 = family.partition(tuple(envs.benchmark("MT10").train_skills))
    assert mt10 == (
        ("reach-v3", "push-v3", "pick-place-v3", "peg-insert-side-v3"),
        (
            "door-open-v3",
            "drawer-open-v3",
            "drawer-close-v3",
            "button-press-topdown-v3",
            "window-open-v3",
            "window-close-v3",
        ),
    )
    assert len(family.partition(tuple(envs.benchmark("MT10").train_skills), pad_joints=False)) == 4
    for fams in (mt10, MT50_FAMILIES):
        for f in fams:
            rows = family.constraint_rows(f[0], f if len(f) > 1 else None)
            assert rows <= family.MAX_ROW_RATIO * max(family.constraint_rows(s) for s in f), f
            nv = family.dofs(f[0], f if len(f) > 1 else None)
            assert nv <= family.MAX_ROW_RATIO * max(family.dofs(s) for s in f), f
    assert sorted(s for f in MT50_FAMILIES for s in f) == sorted(envs.benchmark("MT50").train_skills)
    assert len(MT50_FAMILIES) <= 14  # 38 graphs before families, 16 before joint padding (docs/families.md)


def test_incompatible_skills_are_refused_by_name():
    with pytest.raises(
        family.FamilyError,
        match=r"drawer-open-v3 cannot join \('reach-v3',\): solver options "
        r"differ \(cone mjCONE_ELLIPTIC vs mjCONE_PYRAMIDAL\)",
    ):
        family.template(("reach-v3", "drawer-open-v3"))
    with pytest.raises(family.FamilyError, match=r"door-open-v3 cannot join \('drawer-open-v3',\): body slot "):
        family.template(("drawer-open-v3", "door-open-v3"), pad_joints=False)
    assert family.compatible(("drawer-open-v3", "door-open-v3"))  # the drawer's slide and the door's hinge: 2 slots
    # the window's sash is not its frame's last child: it cannot be lowered to the drawer's depth
    pair = ("button-press-topdown-v3", "drawer-open-v3")
    assert family.compatible(pair)  # the button's slide is lowered under a pad to the drawer's depth
    m = family.padded_model(get_skill(pair[0]).scene, family.template(pair))
    parent = m.body_parentid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "button")]
    assert mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, parent).startswith("_family_body")
    assert not family.compatible(("button-press-topdown-v3", "drawer-open-v3", "window-open-v3"), pad_joints=False)
    assert family.compatible(("button-press-topdown-v3", "drawer-open-v3", "window-open-v3"))
    assert not family.compatible(("reach-v3", "door-open-v3"))  # the cones differ
    with pytest.raises(ValueError, match="does not contain 'reach-v3'"):
        envs.make("reach-v3", family=("push-v3", "pick-place-v3"))
    with pytest.raises(ValueError, match="max_row_ratio must be >= 1, got 0.5"):
        family.partition(("reach-v3",), max_row_ratio=0.5)


@pytest.mark.parametrize(
    "skills, fields",
    [
        (("drawer-open-v3", "drawer-close-v3"), {"geom_size", "pair_margin"}),  # different geoms and pairs
        # joint padding: each carries a dummy of the other's moving body (door hinge / drawer slide), reordered
        (("door-open-v3", "drawer-open-v3"), {"body_mass", "dof_damping"}),
        pytest.param(("push-v3", "pick-place-v3"), {"site_pos"}, marks=pytest.mark.slow),  # one scene, other goals
        # MT50's family: handle-press-side is reordered and resets from metaworld's settle table, then writes
        # metaworld's qpos[9] (`Sim.qpos_index`)
        pytest.param(("dial-turn-v3", "handle-press-side-v3"), {"body_mass"}, marks=pytest.mark.slow),
    ],
    ids=lambda v: "+".join(v) if isinstance(v, tuple) else None,
)
def test_family_steps_like_each_members_own_scene(skills, fields):
    """A two-skill family in one padded physics call equals each skill stepped in its own lean scene, across
    an auto-reset."""
    bench = envs.benchmark("MT50" if "dial-turn-v3" in skills else "MT10")
    kw = dict(envs_per_skill=2, skills=list(skills), max_path_length=3)
    shared, alone = make_multitask(bench, **kw), make_multitask(bench, share_physics=False, **kw)
    assert shared.physics_groups == ((0, 1),) and alone.physics_groups is None
    assert fields <= set(shared.override_fields[0])
    a = jax.random.uniform(jax.random.key(5), (4, 4), minval=-1.0, maxval=1.0)
    outs = []
    for menv in (shared, alone):
        s, step = jax.jit(menv.reset)(jax.random.key(6)), jax.jit(menv.step)
        for _ in range(4):
            s = step(s, a)
        outs.append(s)
    np.testing.assert_allclose(np.asarray(outs[0].obs), np.asarray(outs[1].obs), atol=1e-5)
    np.testing.assert_allclose(np.asarray(outs[0].reward), np.asarray(outs[1].reward), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(outs[0].done), np.asarray(outs[1].done))
    assert bool(jnp.all(jnp.isfinite(outs[0].obs)))


def test_joint_maps_put_metaworld_state_in_the_padded_layout():
    """A member the template reorders (drawer-open beside door-open: the door's hinge slot comes first): its
    joint map, the settled reset state in the padded layout (dummies at rest), and `Sim.qpos_index` for the
    metaworld indices its reset writes."""
    from envs.settle import settled_state

    fam = ("door-open-v3", "drawer-open-v3")
    env = envs.make("drawer-open-v3", family=fam)
    qpos_map, dof_map = family.joint_maps(get_skill("drawer-open-v3").scene, env.sim.model)
    own = settled_state("drawer-open-v3")
    assert env.sim.model.nq == 11 and list(qpos_map) == list(range(9)) + [10] and list(dof_map) == list(qpos_map)
    np.testing.assert_array_equal(env.sim.settled["qpos"][qpos_map], own["qpos"])
    assert env.sim.settled["qpos"][9] == env.sim.model.qpos0[9] and env.sim.settled["qvel"][9] == 0.0
    drawer = int(env.sim.model.jnt_qposadr[env.sim.model.body_jntadr[env.sim.body("drawer_link")]])
    assert env.sim.qpos_index(9, 10) == slice(drawer, drawer + 1) == slice(10, 11)
    assert env.sim.qpos_index(0, 9) == slice(0, 9)
    np.testing.assert_array_equal(env.sim.qpos_index(8, 10), [8, 10])  # not contiguous: an index array
    with pytest.raises(IndexError, match=r"\[9:12\] is outside the skill's own layout \(10 entries\)"):
        env.sim.qpos_index(9, 12)
    alone = envs.make("drawer-open-v3")
    assert alone.sim.qpos_map is None and alone.sim.qpos_index(9, 10) == slice(9, 10)
