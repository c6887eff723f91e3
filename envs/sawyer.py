"""The Sawyer arm shared by every Meta-World skill, as pure MJX functions.

Control, observation and reset follow `metaworld.sawyer_xyz_env.SawyerXYZEnv` (metaworld 3.1.1):

* action (4,): clipped to [-1, 1] for the mocap delta (x, y, z) * `action_scale` (1/100 m), new mocap
  position clipped to the skill's mocap bounds, mocap quat (1, 0, 1, 0); gripper ctrl = (a3, -a3) with
  the raw a3 (the actuators' ctrlrange clamps it), `frame_skip` = 5 physics steps of 2.5 ms, then a
  full forward pass (metaworld calls `mj_forward` before observing).
* observation (39,): [hand pos (3), gripper opening (1), objects pos+quat padded to 14] for the current
  frame, the same 18 for the previous frame, and the goal (3; zeros when partially observable),
  clipped to metaworld's observation-space bounds on `step` (not on `reset`, as metaworld).
* reset: metaworld resets MuJoCo data and runs a 50-step "hand settle" (mocap at `hand_init_pos`,
  gripper open). That settle is deterministic and task-independent, so it is run once per skill by
  metaworld itself at `make` time (`envs.settle`), and every reset starts from that settled state;
  the skill then places its objects from the task's `rand_vec`.

Everything here is a pure function of explicit inputs; `Env` is a frozen, hashable bundle of the
static model and the skill definition, so `jax.jit(env.step)` and `jax.vmap(env.step)` just work.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct
from mujoco import mjx

from envs.scene import SceneConfig

OBS_DIM = 39
ACTION_DIM = 4
MAX_PATH_LENGTH = 500
FRAME_SKIP = 5
ACTION_SCALE = 1.0 / 100.0
MOCAP_QUAT = (1.0, 0.0, 1.0, 0.0)
#: `SawyerXYZEnv._HAND_SPACE`, the observation bounds of the hand position.
HAND_SPACE_LOW = (-0.525, 0.348, -0.0525)
HAND_SPACE_HIGH = (0.525, 1.025, 0.7)
OBS_OBJ_MAX_LEN = 14


@struct.dataclass
class EnvState:
    """State of one env instance (add a leading batch axis under vmap).

    data:       mjx.Data, the physics state after the last step (forward pass done).
    obs:        (39,) float32 observation.
    reward:     () float32, metaworld v2 reward of the last step (0 after reset).
    done:       () bool, True when the episode ended (truncation at 500 steps; Meta-World never
                terminates on its own).
    info:       dict of () arrays: "success", "truncated", "near_object", "grasp_success",
                "grasp_reward", "in_place_reward", "obj_to_target", "unscaled_reward",
                "nonfinite_action" (count of NaN/inf action entries replaced by 0 this step),
                "physics_nan" (1 if the physics diverged and the instance was reset this step).
    prev_frame: (18,) the unclipped current frame, stacked into the next observation.
    steps:      () int32, env steps since reset.
    task:       dict of per-episode constants computed at reset (rand_vec, target_pos, ...).
    """

    data: Any
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    info: dict
    prev_frame: jax.Array
    steps: jax.Array
    task: dict


def _mapped(index_map: np.ndarray | None, start: int, stop: int):
    if index_map is None:
        return slice(start, stop)
    idx = np.asarray(index_map[start:stop])
    if len(idx) != stop - start:
        raise IndexError(f"[{start}:{stop}] is outside the skill's own layout ({len(index_map)} entries)")
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


@dataclasses.dataclass(frozen=True, eq=False)
class Sim:
    """Static handles a skill's functions need: model, name -> id maps, settled reset state.

    Built once per skill by `make_env`; hashable by identity so it can be closed over by jit.
    """

    model: mujoco.MjModel
    mx: Any  # mjx.Model
    settled: Mapping[str, np.ndarray]  # qpos, qvel, mocap_pos, mocap_quat, ctrl, qacc_warmstart
    consts: Mapping[str, np.ndarray]  # init_tcp, init_left_pad, init_right_pad, ... from metaworld
    #: metaworld's settled state per task, for skills whose hand settle depends on the task
    #: (envs.settle.task_settled_states: rand_vec (n, k) + settled fields (n, ...)); None: none given.
    settle_table: Mapping[str, np.ndarray] | None = None
    #: True: every reset's task is in `settle_table` (the caller checked it, e.g. the multi-task env's reset
    #: pool over its benchmark's task sets), so resets take the table's settled state without tracing the
    #: simulated settle (250 physics steps) as a fallback; a task missing from the table then resets to NaN.
    settle_table_only: bool = False
    #: where metaworld's qpos / dof indices sit in this model (`envs.family.joint_maps`: a family template may
    #: add dummy bodies and reorder the skill's own); None: the identity (the skill's own scene)
    qpos_map: np.ndarray | None = None
    dof_map: np.ndarray | None = None

    def qpos_index(self, start: int, stop: int):
        """metaworld's `qpos[start:stop]` in this model: a slice where contiguous, else an index array."""
        return _mapped(self.qpos_map, start, stop)

    def dof_index(self, start: int, stop: int):
        """metaworld's `qvel[start:stop]` (dof indices) in this model: a slice where contiguous, else an index array."""
        return _mapped(self.dof_map, start, stop)

    def body(self, name: str) -> int:
        i = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if i < 0:
            raise KeyError(f"no body named {name!r}")
        return i

    def geom(self, name: str) -> int:
        i = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, name)
        if i < 0:
            raise KeyError(f"no geom named {name!r}")
        return i

    def site(self, name: str) -> int:
        i = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, name)
        if i < 0:
            raise KeyError(f"no site named {name!r}")
        return i

    def joint_qpos(self, name: str) -> int:
        i = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if i < 0:
            raise KeyError(f"no joint named {name!r}")
        return int(self.model.jnt_qposadr[i])

    def joint_dof(self, name: str) -> int:
        i = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if i < 0:
            raise KeyError(f"no joint named {name!r}")
        return int(self.model.jnt_dofadr[i])

    # --- quantities metaworld reads from MjData -------------------------------------------------
    def body_com(self, data, name: str) -> jax.Array:
        """`env.get_body_com(name)`. Despite its name, gymnasium's MujocoEnv.get_body_com returns the
        body FRAME position `data.body(name).xpos`, not the centre of mass (xipos): they differ for the
        finger pads (massless bodies, ipos offset 3 mm), which metaworld's caging rewards read."""
        return data.xpos[self.body(name)]

    def body_xpos(self, data, name: str) -> jax.Array:
        return data.xpos[self.body(name)]

    def body_xquat(self, data, name: str) -> jax.Array:
        return data.xquat[self.body(name)]

    def site_xpos(self, data, name: str) -> jax.Array:
        return data.site_xpos[self.site(name)]

    def geom_xpos(self, data, name: str) -> jax.Array:
        return data.geom_xpos[self.geom(name)]

    def geom_xmat(self, data, name: str) -> jax.Array:
        return data.geom_xmat[self.geom(name)].reshape(3, 3)

    def tcp_center(self, data) -> jax.Array:
        """Mean of the two finger end-effector sites (metaworld's `tcp_center`)."""
        return 0.5 * (self.site_xpos(data, "rightEndEffector") + self.site_xpos(data, "leftEndEffector"))

    def contact_force(self, data, geom_a: str, geom_b: str) -> jax.Array:
        """Total normal force (N, >= 0) over all contacts between two geoms (0 if not touching).

        Metaworld's `touching_object` sums `efc_force[efc_address]` (elliptic cone: the normal
        force). With a pyramidal cone the normal force is the sum of the contact's pyramid rows.
        """
        impl = data._impl
        contact = impl.contact
        ga, gb = self.geom(geom_a), self.geom(geom_b)
        g = contact.geom
        match = ((g[:, 0] == ga) & (g[:, 1] == gb)) | ((g[:, 0] == gb) & (g[:, 1] == ga))
        if contact.geom.shape[0] == 0:
            return jnp.zeros(())
        dims = np.asarray(contact.dim)
        addr = np.asarray(contact.efc_address)
        cone = int(self.model.opt.cone)
        forces = []
        for i in range(g.shape[0]):
            if cone == int(mujoco.mjtCone.mjCONE_ELLIPTIC) or dims[i] == 1:
                f = impl.efc_force[addr[i]]
            else:
                rows = 2 * (int(dims[i]) - 1)
                f = impl.efc_force[addr[i] : addr[i] + rows].sum()
            forces.append(f)
        f = jnp.stack(forces)
        active = match & (contact.dist <= contact.includemargin) if hasattr(contact, "includemargin") else match
        return jnp.sum(jnp.where(active, f, 0.0))

    def touching(self, data, object_geom: str) -> jax.Array:
        """metaworld `touching_object`: both finger pads push on the object (bool)."""
        left = self.contact_force(data, "leftpad_geom", object_geom)
        right = self.contact_force(data, "rightpad_geom", object_geom)
        return (left > 0) & (right > 0)


#: metaworld's usual arm set-up (most skills' ``__init__``): the hand's start position (m, world frame) and
#: the mocap (hand) bounds. `Skill` defaults to them; skills that differ say so.
HAND_INIT_POS = (0.0, 0.6, 0.2)
HAND_LOW = (-0.5, 0.40, 0.05)
HAND_HIGH = (0.5, 1.0, 0.5)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Skill:
    """Definition of one Meta-World skill (the parts that differ between skills).

    Functions receive the `Sim` (static), mjx data and the task dict; all jnp, jit/vmap-able.
      reset(sim, data, rand_vec) -> (data, task): place objects for this task (qpos/qvel/mocap
          edits; call `mjx.forward` if you need derived positions), return per-episode constants.
          `task` must contain "target_pos" (3,) (the goal in the observation) and may contain
          "model" (dict of mjx.Model fields to override per instance, e.g. {"body_pos": ...}).
      objects(sim, data, task) -> (pos (3k,), quat (4k,)): what `_get_pos_objects` /
          `_get_quat_objects` return.
      evaluate(sim, data, obs, action, task) -> (reward, info): metaworld's `evaluate_state`
          (info built by `skill_info`); `obs` is the clipped observation, `action` the (sanitised,
          unclipped) action.
    Keywords only; hand_init_pos / hand_low / hand_high default to `HAND_INIT_POS` / `HAND_LOW` /
    `HAND_HIGH`.
    """

    name: str
    scene: SceneConfig
    hand_init_pos: tuple[float, float, float] = HAND_INIT_POS
    hand_low: tuple[float, float, float] = HAND_LOW
    hand_high: tuple[float, float, float] = HAND_HIGH
    goal_low: tuple[float, float, float]
    goal_high: tuple[float, float, float]
    reset: Callable
    objects: Callable
    evaluate: Callable
    mocap_low: tuple[float, float, float] | None = None
    mocap_high: tuple[float, float, float] | None = None
    #: Does evaluate() read contact or constraint-force data (`Sim.touching`, `contact_force`)? If not, the
    #: pass after a step's physics is kinematics only (positions and frames, what observations and such a
    #: reward read): a smaller compiled step. tests/envs/test_env_api.py checks the flag against the
    #: data fields each skill's observation and reward actually read.
    needs_contacts: bool = False
    #: metaworld's reset_model runs no mj_forward after the hand settle (no set_state), so its reset
    #: observation's hand pos / gripper opening are MuJoCo's stale kinematics from the start of the
    #: settle's last substep (~1e-4 m off): reproduce them (envs.settle "reset_arm_frame").
    stale_reset_arm: bool = False
    #: Optional (sim, data, task) -> data: the physics data whose kinematics metaworld's reset observation
    #: shows for the OBJECTS, when its reset_model edits qpos after the last kinematics pass and never calls
    #: mj_forward (e.g. window-close opens the window after the settle): frame[4:] is read from it.
    stale_reset_objects: Callable | None = None
    #: Optional (sim, data, task) -> data: the physics data whose kinematics metaworld's reset observation
    #: shows for the WHOLE frame (arm and objects), when its reset_model steps the physics after the settle
    #: and never calls mj_forward (e.g. door-lock's 5 raw mj_steps: the observation shows the kinematics of
    #: the state before the last one). Takes precedence over stale_reset_objects / stale_reset_arm.
    stale_reset_frame: Callable | None = None
    #: The body whose task placement metaworld's reset hand settle can touch (the settle then depends on the
    #: task: envs.skills.task_settle), or None. Such a skill's reset takes the settled state from the env's
    #: per-task table where the task is in it (`envs.make(settle_tasks=...)`), else simulates the settle.
    settle_body: str | None = None
    #: With settle_body: the per-task table (envs.settle.task_settled_states(placed=True)) also holds metaworld's
    #: state at the moment its reset_model places the object (`_set_obj_xyz`), as "placed_<field>" rows, for a
    #: reset_model that steps the physics between the settle and the placement (box-close's 5 raw mj_steps).
    settle_table_placed: bool = False

    @property
    def mocap_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = self.mocap_low if self.mocap_low is not None else self.hand_low
        hi = self.mocap_high if self.mocap_high is not None else self.hand_high
        return np.asarray(lo, np.float32), np.asarray(hi, np.float32)


INFO_KEYS = (
    "success",
    "truncated",
    "near_object",
    "grasp_success",
    "grasp_reward",
    "in_place_reward",
    "obj_to_target",
    "unscaled_reward",
    "nonfinite_action",
    "physics_nan",
)


def skill_info(
    *, success, near_object, grasp_success, grasp_reward, in_place_reward, obj_to_target, unscaled_reward
) -> dict:
    """The info dict a `Skill.evaluate` returns: metaworld's ``evaluate_state`` keys, () float32 each
    (`success`, `grasp_success` 0 / 1; `unscaled_reward` the reward before any scaling). The env adds the
    rest of `INFO_KEYS` (truncated, nonfinite_action, physics_nan)."""
    return {
        "success": success,
        "near_object": near_object,
        "grasp_success": grasp_success,
        "grasp_reward": grasp_reward,
        "in_place_reward": in_place_reward,
        "obj_to_target": obj_to_target,
        "unscaled_reward": unscaled_reward,
    }


def _model_with(sim: Sim, task: dict):
    over = task.get("model")
    if not over:
        return sim.mx
    return sim.mx.replace(**over)


def current_frame(sim: Sim, skill: Skill, data, task) -> jax.Array:
    """The 18-dim frame: hand pos (3), gripper opening in [0, 1] (1), objects padded to 14."""
    hand = sim.body_xpos(data, "hand")
    right = sim.body_xpos(data, "rightclaw")
    left = sim.body_xpos(data, "leftclaw")
    grip = jnp.clip(jnp.linalg.norm(right - left) / 0.1, 0.0, 1.0)
    pos, quat = skill.objects(sim, data, task)
    n = pos.shape[0] // 3
    parts = []
    for i in range(n):
        parts.append(pos[3 * i : 3 * i + 3])
        parts.append(quat[4 * i : 4 * i + 4])
    obj = jnp.concatenate(parts) if parts else jnp.zeros((0,))
    obj = jnp.pad(obj, (0, OBS_OBJ_MAX_LEN - obj.shape[0]))
    return jnp.concatenate([hand, grip[None], obj]).astype(jnp.float32)


def obs_bounds(skill: Skill, partially_observable: bool) -> tuple[np.ndarray, np.ndarray]:
    """metaworld's `sawyer_observation_space` bounds (39,)."""
    inf = np.full(OBS_OBJ_MAX_LEN, np.inf)
    frame_lo = np.concatenate([HAND_SPACE_LOW, [-1.0], -inf])
    frame_hi = np.concatenate([HAND_SPACE_HIGH, [1.0], inf])
    if partially_observable:
        goal_lo, goal_hi = np.zeros(3), np.zeros(3)
    else:
        goal_lo, goal_hi = np.asarray(skill.goal_low), np.asarray(skill.goal_high)
    lo = np.concatenate([frame_lo, frame_lo, goal_lo]).astype(np.float32)
    hi = np.concatenate([frame_hi, frame_hi, goal_hi]).astype(np.float32)
    return lo, hi


@dataclasses.dataclass(frozen=True, eq=False)
class Env:
    """One Meta-World skill on MJX. Pure `reset` / `step`; hashable by identity (static under jit)."""

    skill: Skill
    sim: Sim
    partially_observable: bool = False
    max_path_length: int = MAX_PATH_LENGTH
    frame_skip: int = FRAME_SKIP

    @property
    def name(self) -> str:
        return self.skill.name

    @property
    def observation_size(self) -> int:
        return OBS_DIM

    @property
    def action_size(self) -> int:
        return ACTION_DIM

    @property
    def rand_vec_size(self) -> int:
        return int(self.sim.consts["rand_vec_size"])

    # ------------------------------------------------------------------------------------------
    def _settled_data(self):
        s = self.sim.settled
        d = mjx.make_data(self.sim.mx, device=jax.local_devices()[0])  # (mjx's default: jax.devices()[0])
        return d.replace(
            qpos=jnp.asarray(s["qpos"], jnp.float32),
            qvel=jnp.asarray(s["qvel"], jnp.float32),
            mocap_pos=jnp.asarray(s["mocap_pos"], jnp.float32),
            mocap_quat=jnp.asarray(s["mocap_quat"], jnp.float32),
            ctrl=jnp.asarray(s["ctrl"], jnp.float32),
            qacc_warmstart=jnp.asarray(s["qacc_warmstart"], jnp.float32),
        )

    def reset(self, key: jax.Array | None, rand_vec: jax.Array) -> EnvState:
        """Start an episode of the task given by `rand_vec` (metaworld's per-task random vector).

        `key` is accepted for API symmetry; Meta-World's reset is deterministic given rand_vec.
        """
        del key
        data, task = self.place_objects(rand_vec)
        return self.finish_reset(mjx.forward(_model_with(self.sim, task), data), task)

    def place_objects(self, rand_vec: jax.Array) -> tuple[Any, dict]:
        """First half of `reset`: the settled state with this task's objects placed, before the forward
        pass. Returns (data, task); `reset` = `finish_reset(mjx.forward(model_with(task), data), task)`."""
        rand_vec = jnp.asarray(rand_vec, jnp.float32)
        if rand_vec.shape != (self.rand_vec_size,):
            raise ValueError(f"{self.name}: rand_vec must have shape ({self.rand_vec_size},), got {rand_vec.shape}")
        data = self._settled_data()
        data, task = self.skill.reset(self.sim, data, rand_vec)
        task = dict(task)
        task["rand_vec"] = rand_vec
        return data, task

    def finish_reset(self, data, task) -> EnvState:
        """Second half of `reset`, after the forward pass: the reset observation and state."""
        frame = current_frame(self.sim, self.skill, data, task)
        if self.skill.stale_reset_objects is not None:
            seen = self.skill.stale_reset_objects(self.sim, data, task)
            frame = frame.at[4:].set(current_frame(self.sim, self.skill, seen, task)[4:])
        if self.skill.stale_reset_arm:
            frame = frame.at[:4].set(jnp.asarray(self.sim.consts["reset_arm_frame"], frame.dtype))
        if self.skill.stale_reset_frame is not None:
            frame = current_frame(self.sim, self.skill, self.skill.stale_reset_frame(self.sim, data, task), task)
        goal = self._goal(task)
        obs = jnp.concatenate([frame, frame, goal]).astype(jnp.float32)
        info = {k: jnp.zeros((), jnp.float32) for k in INFO_KEYS}
        return EnvState(
            data=data,
            obs=obs,
            reward=jnp.zeros((), jnp.float32),
            done=jnp.zeros((), bool),
            info=info,
            prev_frame=frame,
            steps=jnp.zeros((), jnp.int32),
            task=task,
        )

    def _goal(self, task) -> jax.Array:
        goal = jnp.asarray(task["target_pos"], jnp.float32)
        if self.partially_observable:
            goal = jnp.zeros_like(goal)
        return goal

    def observe(self, state_data, task, prev_frame) -> tuple[jax.Array, jax.Array]:
        """(clipped obs (39,), unclipped current frame (18,)) for physics data after a step."""
        frame = current_frame(self.sim, self.skill, state_data, task)
        obs = jnp.concatenate([frame, prev_frame, self._goal(task)])
        lo, hi = obs_bounds(self.skill, self.partially_observable)
        return jnp.clip(obs, lo, hi).astype(jnp.float32), frame

    def physics(self, data, action: jax.Array, task, post_forward: bool | None = None):
        """Apply one env-step of control to physics: mocap move + gripper ctrl, frame_skip steps, then a full
        forward pass or kinematics only (`physics_step`; None: the full pass iff skill.needs_contacts)."""
        lo, hi = self.skill.mocap_bounds
        post = self.skill.needs_contacts if post_forward is None else post_forward
        return physics_step(self.sim.mx, data, action, task.get("model") or {}, lo, hi, self.frame_skip, post)

    def evaluate_state(self, state: EnvState, qpos, qvel, mocap_pos, mocap_quat, action):
        """Observation, reward and info of an externally given physics state (e.g. copied from
        metaworld's MuJoCo env), using this env's per-episode constants `state.task` and previous
        frame `state.prev_frame`. Returns (obs (39,), reward (), info dict, frame (18,)).

        Used by the fidelity tests: identical states must give identical obs/reward/success.
        """
        data = state.data.replace(
            qpos=jnp.asarray(qpos, jnp.float32),
            qvel=jnp.asarray(qvel, jnp.float32),
            mocap_pos=jnp.asarray(mocap_pos, jnp.float32).reshape(state.data.mocap_pos.shape),
            mocap_quat=jnp.asarray(mocap_quat, jnp.float32).reshape(state.data.mocap_quat.shape),
        )
        data = mjx.forward(_model_with(self.sim, state.task), data)
        obs, frame = self.observe(data, state.task, state.prev_frame)
        action = jnp.asarray(action, jnp.float32)
        reward, info = self.skill.evaluate(self.sim, data, obs, action, state.task)
        return obs, jnp.asarray(reward, jnp.float32), _full_info(info, False, 0.0, 0.0), frame

    def step(self, state: EnvState, action: jax.Array) -> EnvState:
        """One env step (metaworld `step`). action: (4,) float; NaN/inf entries are replaced by 0."""
        action, nonfinite = self.sanitize_action(action)
        return self.finish_step(state, action, nonfinite, self.physics(state.data, action, state.task))

    def sanitize_action(self, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(action (4,) float32 with NaN/inf entries replaced by 0, () count of replaced entries)."""
        action = jnp.asarray(action)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"{self.name}: action must have shape ({ACTION_DIM},), got {action.shape}")
        action = action.astype(jnp.float32)
        finite = jnp.isfinite(action)
        nonfinite = jnp.sum(~finite).astype(jnp.float32)
        return jnp.where(finite, action, 0.0), nonfinite

    def finish_step(self, state: EnvState, action: jax.Array, nonfinite: jax.Array, data) -> EnvState:
        """The rest of `step` once physics has produced `data`: observation, reward, truncation, and the
        NaN guard. `step` = `finish_step(state, a, n, physics(state.data, a, state.task))`."""
        obs, frame = self.observe(data, state.task, state.prev_frame)
        reward, info = self.skill.evaluate(self.sim, data, obs, action, state.task)
        steps = state.steps + 1
        truncated = steps >= self.max_path_length

        physics_ok = jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))
        stepped = EnvState(
            data=data,
            obs=obs,
            reward=jnp.asarray(reward, jnp.float32),
            done=truncated,
            info=_full_info(info, truncated, nonfinite, jnp.zeros(())),
            prev_frame=frame,
            steps=steps,
            task=state.task,
        )
        # A diverged simulation never leaks NaN: the instance keeps its last finite state, ends the
        # episode (done) and reports physics_nan; the batched env (envs.multitask) resets it.
        failed = state.replace(
            reward=jnp.zeros((), jnp.float32),
            done=jnp.ones((), bool),
            info=_full_info({}, jnp.zeros((), bool), nonfinite, jnp.ones(())),
            steps=steps,
        )
        return jax.tree.map(lambda a, b: jnp.where(physics_ok, a, b), stepped, failed)


def physics_step(
    mx,
    data,
    action: jax.Array,
    model_overrides: Mapping[str, Any],
    mocap_low,
    mocap_high,
    frame_skip: int,
    post_forward: bool = True,
):
    """One env-step of control on model `mx` (with per-instance `model_overrides` fields): mocap moved by
    the clipped action * 1 cm within [mocap_low, mocap_high] (3,), gripper ctrl (a3, -a3), `frame_skip`
    physics steps, then metaworld's `mj_forward` (post_forward) or only its kinematics (positions and
    frames: xpos, xquat, xmat, geom_/site_ x*, ...; the rest of the derived data, contacts and forces
    included, is then the last substep's). The next step recomputes everything from qpos, qvel and the
    warm start either way, so the trajectory is the same up to float rounding (bitwise on reach; under vmap
    XLA fuses the two graphs differently: 1.4e-7 in qpos after one box-close step, which its contacts amplify
    to cm within 50 steps); only what `evaluate` can read differs (Skill.needs_contacts). Shared by every skill whose scene compiles to the same model, so the batched
    multi-task env can step such skills in one vmapped call (envs.multitask)."""
    delta = jnp.clip(action[:3], -1.0, 1.0) * ACTION_SCALE
    mocap = jnp.clip(data.mocap_pos + delta[None], mocap_low, mocap_high)
    data = data.replace(
        mocap_pos=mocap,
        mocap_quat=jnp.broadcast_to(jnp.asarray(MOCAP_QUAT, data.mocap_quat.dtype), data.mocap_quat.shape),
        ctrl=jnp.stack([action[3], -action[3]]).astype(data.ctrl.dtype),
    )
    m = mx.replace(**model_overrides) if model_overrides else mx

    def substep(d, _):
        return mjx.step(m, d), None

    data, _ = jax.lax.scan(substep, data, None, length=frame_skip)
    return mjx.forward(m, data) if post_forward else mjx.kinematics(m, data)


def _full_info(info: Mapping[str, Any], truncated, nonfinite, physics_nan) -> dict:
    out = {k: jnp.zeros((), jnp.float32) for k in INFO_KEYS}
    for k, v in info.items():
        out[k] = jnp.asarray(v, jnp.float32)
    out["truncated"] = jnp.asarray(truncated, jnp.float32)
    out["nonfinite_action"] = jnp.asarray(nonfinite, jnp.float32)
    out["physics_nan"] = jnp.asarray(physics_nan, jnp.float32)
    return out
