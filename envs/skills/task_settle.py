"""metaworld's reset hand settle, simulated per task where it depends on the task.

Every metaworld reset runs `reset_model` twice (SawyerXYZEnv.reset, then gymnasium's MujocoEnv.reset after
`mj_resetData`), and each starts with a 50-step hand settle (mocap held at hand_init_pos, gripper ctrl
(-1, 1), 5 physics steps each). In the second settle, the skill's objects already stand where the FIRST
reset_model put them (a model edit such as `model.body("box").pos = rand_vec` survives mj_resetData), and
the arm, swinging from its qpos0 pose to hand_init_pos, may brush them. Where it does, the settled state
(and init_tcp, which rewards read) depends on the task; envs.settle, which runs metaworld's settle once per
skill, cannot serve. `hand_settle` takes it from metaworld's per-task table where the env has one for the
task (`envs.make(settle_tasks=...)`, envs.settle.task_settled_states: exact), and otherwise simulates it in
MJX for the task's model; `free_settle` is MuJoCo's own contact-free settle (the object body moved 10 m away),
returned exactly wherever the simulated settle touched nothing.
Users: the handle skills (the box), door-lock / door-unlock (the safe).
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs.sawyer import FRAME_SKIP

SETTLE_STEPS = 50
#: metaworld's hand orientation during the settle (mocap quat, MuJoCo (w, x, y, z)) and gripper ctrl.
SETTLE_QUAT = (1.0, 0.0, 1.0, 0.0)
SETTLE_CTRL = (-1.0, 1.0)
#: The data fields a settle determines (the rest of the reset state is recomputed from them).
SETTLED_FIELDS = ("qpos", "qvel", "qacc_warmstart", "mocap_pos", "mocap_quat", "ctrl")


def hand_settle(sim, data, model, hand_init_pos, moved_body: str, rand_vec):
    """metaworld's hand settle with the task's object placement (`model`: the MJX model with the task's
    overrides), for the task `rand_vec`.

    Where the env has metaworld's per-task table (`sim.settle_table`, from `envs.make(settle_tasks=...)`)
    and rand_vec is in it (equal in float32), that state is returned: exact. Otherwise the settle is
    simulated: `mj_resetData` (qpos0, zero velocities, mocap at its body pose, zero warm start), then
    50 x (mocap at hand_init_pos, gripper ctrl (-1, 1), 5 physics steps); if no contact was active during it,
    MuJoCo's exact contact-free settle (`free_settle`) is returned, else the simulated one (float32, the
    skill's collision proxies and MJX's colliders: approximate, by up to mm where the arm hits the object).
    `moved_body`: the body the task places (moved away for the contact-free settle). With
    `sim.settle_table_only` only the table lookup is traced (no simulated fallback; a miss gives NaN).
    Returns (data, init_tcp (3,), exact (bool scalar: the state is metaworld's own))."""
    if sim.settle_table_only:
        if sim.settle_table is None:
            raise ValueError("hand_settle: settle_table_only needs a settle_table (envs.make(settle_tasks=...))")
        # No fallback traced: a task missing from the table gets NaN fields (physics_nan downstream).
        nan = lambda shape: jnp.full(shape, jnp.nan, data.qpos.dtype)  # noqa: E731
        fields = {k: nan(getattr(data, k).shape) for k in SETTLED_FIELDS}
        fields["init_tcp"] = nan((3,))
        fields, exact = from_table(sim.settle_table, rand_vec, fields, jnp.zeros((), bool))
        init_tcp = fields.pop("init_tcp")
        return data.replace(**fields), init_tcp, exact
    m = sim.model
    mocap_body = sim.body("mocap")
    f32 = data.qpos.dtype
    start = data.replace(
        qpos=jnp.asarray(m.qpos0, f32),
        qvel=jnp.zeros_like(data.qvel),
        mocap_pos=jnp.asarray(m.body_pos[mocap_body], f32)[None],
        mocap_quat=jnp.asarray(m.body_quat[mocap_body], f32)[None],
        ctrl=jnp.zeros_like(data.ctrl),
        qacc_warmstart=jnp.zeros_like(data.qacc_warmstart),
        time=jnp.zeros_like(data.time),
    )
    hand = jnp.asarray(hand_init_pos, f32)[None]
    quat = jnp.asarray(SETTLE_QUAT, f32)[None]
    ctrl = jnp.asarray(SETTLE_CTRL, f32)

    def substep(carry, _):
        d, touched = carry
        d = mjx.step(model, d)
        c = d._impl.contact
        return (d, touched | jnp.any(c.dist < c.includemargin)), None

    def env_step(carry, _):
        d, touched = carry
        d = d.replace(mocap_pos=hand, mocap_quat=quat, ctrl=ctrl)
        return jax.lax.scan(substep, (d, touched), None, length=FRAME_SKIP)[0], None

    (settled, touched), _ = jax.lax.scan(env_step, (start, jnp.zeros((), bool)), None, length=SETTLE_STEPS)
    # `self.init_tcp = self.tcp_center` right after the settle: MuJoCo's site positions then date from the
    # start of the last substep, as mjx.step's (kinematics run before integration).
    free = free_settle(sim.model, tuple(hand_init_pos), moved_body)
    init_tcp = jnp.where(touched, sim.tcp_center(settled), jnp.asarray(free["init_tcp"], f32))
    fields = {
        k: jnp.where(touched, getattr(settled, k), jnp.asarray(free[k], f32).reshape(getattr(data, k).shape))
        for k in SETTLED_FIELDS
    }
    fields["init_tcp"] = init_tcp
    fields, exact = from_table(sim.settle_table, rand_vec, fields, ~touched)
    init_tcp = fields.pop("init_tcp")
    return data.replace(**fields), init_tcp, exact


def from_table(table, rand_vec, fields: dict, exact):
    """`fields` (name -> array) replaced by the row of `table` (envs.settle.task_settled_states) whose
    rand_vec equals `rand_vec` in float32, where there is one; `exact` | found. table None: unchanged."""
    if table is None:
        return fields, exact
    match = jnp.all(jnp.asarray(table["rand_vec"], jnp.float32) == jnp.asarray(rand_vec, jnp.float32), axis=1)
    found = jnp.any(match)
    row = jnp.argmax(match)
    out = {k: jnp.where(found, jnp.asarray(table[k], v.dtype)[row].reshape(v.shape), v) for k, v in fields.items()}
    return out, exact | found


_FREE_SETTLE: dict = {}


def free_settle(model: mujoco.MjModel, hand_init_pos: tuple, moved_body: str) -> dict:
    """metaworld's hand settle without contacts (`moved_body` 10 m away), run by MuJoCo on the stock physics
    options (Newton, 50 / 50 iterations, elliptic cone: the arm touches nothing, so the scene's pairs do not
    matter). Cached per (model, hand_init_pos, moved_body). Keys: SETTLED_FIELDS and init_tcp (the tcp as
    metaworld reads it right after the settle: site positions from the start of the last substep)."""
    key = (id(model), hand_init_pos, moved_body)
    if key not in _FREE_SETTLE or _FREE_SETTLE[key][0] is not model:
        m = copy.deepcopy(model)
        m.opt.solver, m.opt.iterations, m.opt.ls_iterations = mujoco.mjtSolver.mjSOL_NEWTON, 50, 50
        m.opt.cone, m.opt.tolerance = mujoco.mjtCone.mjCONE_ELLIPTIC, 1e-10
        body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, moved_body)
        if body < 0:
            raise ValueError(f"free_settle: no body {moved_body!r} in the model")
        m.body_pos[body] = (0.0, 10.0, 0.0)
        d = mujoco.MjData(m)
        mujoco.mj_resetData(m, d)
        for _ in range(SETTLE_STEPS):
            d.mocap_pos[0] = hand_init_pos
            d.mocap_quat[0] = SETTLE_QUAT
            d.ctrl[:] = SETTLE_CTRL
            mujoco.mj_step(m, d, nstep=FRAME_SKIP)
        sites = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, n) for n in ("rightEndEffector", "leftEndEffector")]
        _FREE_SETTLE[key] = (
            model,
            dict(
                **{k: getattr(d, k).copy() for k in SETTLED_FIELDS},
                init_tcp=np.mean([d.site_xpos[i] for i in sites], axis=0),
            ),
        )
    return _FREE_SETTLE[key][1]
