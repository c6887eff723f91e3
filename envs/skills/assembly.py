"""assembly-v3: pick the round nut up by its handle and put it over the peg (metaworld SawyerNutAssemblyEnvV3
in sawyer_assembly_peg_v3.py, reward v2). Also the scene and helpers disassemble-v3 shares (same stock XML).

The unnamed colliders become mass-less proxies: the nut's 8 ring capsules (on a table plane, against the peg) and
its handle box (gripped box-box); the peg cylinder becomes a capsule of the same radius and top height (MJX's
capsule-cylinder is an SDF solve). Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    CLAWS,
    MUJOCO_DEFAULT_CONTACT,
    OBJ_COL_CONTACT,
    PADS,
    TABLE,
    combined_pair,
    euler_quat,
    gripper_caging_reward,
    gripper_pairs,
)

HAND_LOW = (-0.5, 0.40, 0.05)
HAND_HIGH = (0.5, 1.0, 0.5)
WRENCH_HANDLE_LENGTH = 0.02
#: metaworld's `_reward_quat`: the laid-down nut's quaternion.
IDEAL_QUAT = (0.707, 0.0, 0.0, 0.707)

# --- the nut (body asmbly_peg, child of the free body RoundNut) and the peg as the physics sees them --------
#: The ring's 8 collision capsules (r 0.019, half-length 0.015; stock euler in radians, assembly_peg.xml).
_RING = (
    ((0.048, 0.0, 0.0), (1.57, 0.0, 0.0)),
    ((0.0, 0.048, 0.0), (0.0, 1.57, 0.0)),
    ((0.036, 0.036, 0.0), (1.57, 0.785, 0.785)),
    ((-0.048, 0.0, 0.0), (1.57, 0.0, 0.0)),
    ((0.0, -0.048, 0.0), (0.0, 1.57, 0.0)),
    ((-0.036, 0.036, 0.0), (1.57, -0.785, -0.785)),
    ((-0.036, -0.036, 0.0), (1.57, 0.785, 0.785)),
    ((0.036, -0.036, 0.0), (1.57, -0.785, -0.785)),
)
RING = tuple(
    Proxy(f"nut_ring_proxy_{i}", "asmbly_peg", "capsule", (0.019, 0.015), pos=pos, quat=euler_quat(*euler))
    for i, (pos, euler) in enumerate(_RING)
)
#: The handle's collision box (the named WrenchHandle geom is its visual mesh).
HANDLE = Proxy("nut_handle_proxy", "asmbly_peg", "box", (0.019, 0.038, 0.016), pos=(0.0, -0.13, 0.0))
#: The peg (stock: cylinder r 0.02, half-height 0.05, default contact parameters) as a vertical capsule.
PEG = Proxy("peg_proxy", "peg", "capsule", (0.02, 0.03))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_assembly_peg.xml",
    proxies=(TABLE,) + RING + (HANDLE, PEG),
    pairs=tuple(combined_pair(r.name, OBJ_COL_CONTACT, TABLE.name, MUJOCO_DEFAULT_CONTACT) for r in RING)
    + (combined_pair(HANDLE.name, OBJ_COL_CONTACT, TABLE.name, MUJOCO_DEFAULT_CONTACT),)
    + gripper_pairs(HANDLE.name, OBJ_COL_CONTACT, PADS + CLAWS)
    + tuple(combined_pair(r.name, OBJ_COL_CONTACT, PEG.name, MUJOCO_DEFAULT_CONTACT) for r in RING),
    cone="elliptic",
)


def set_nut_pos(sim, data, pos):
    """`_set_obj_xyz`: the nut's (unnamed) free joint is qpos[9:16], qvel[9:15]."""
    return data.replace(
        qpos=data.qpos.at[sim.qpos_index(9, 12)].set(pos), qvel=data.qvel.at[sim.dof_index(9, 15)].set(0.0)
    )


def peg_model(sim, peg_pos, peg_top_pos):
    """Per-instance model overrides: the peg body's position and its pegTop site's (peg-frame) position."""
    body_pos = sim.mx.body_pos.at[sim.body("peg")].set(peg_pos.astype(sim.mx.body_pos.dtype))
    site_pos = sim.mx.site_pos.at[sim.site("pegTop")].set(peg_top_pos.astype(sim.mx.site_pos.dtype))
    return {"body_pos": body_pos, "site_pos": site_pos}


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = rand_vec[3:6]
    data = set_nut_pos(sim, data, obj_init_pos)
    model = peg_model(sim, target_pos - jnp.asarray([0.0, 0.0, 0.05], jnp.float32), target_pos)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def objects(sim, data, task):
    return sim.site_xpos(data, "RoundNut-8"), sim.body_xquat(data, "RoundNut")


def reward_quat(obs):
    error = jnp.linalg.norm(obs[7:11] - jnp.asarray(IDEAL_QUAT, jnp.float32))
    return jnp.maximum(1.0 - error / 0.4, 0.0)


def wrench_threshed(obs):
    """The handle position with its x snapped to the hand's when within half the handle length."""
    hand, wrench = obs[:3], obs[4:7]
    snap = jnp.abs(wrench[0] - hand[0]) < WRENCH_HANDLE_LENGTH / 2.0
    return wrench.at[0].set(jnp.where(snap, hand[0], wrench[0]))


def _reward_pos(wrench_center, target_pos):
    pos_error = target_pos - wrench_center
    radius = jnp.linalg.norm(pos_error[:2])
    success = (radius < 0.02) & (pos_error[2] > 0.0)
    threshold = jnp.where(success, 0.02, 0.01)
    above = radius > threshold
    target_height = jnp.where(above, 0.02 * jnp.log(jnp.where(above, radius - threshold, 1.0)) + 0.2, 0.0)
    pos_error = pos_error.at[2].set(target_height - wrench_center[2])
    scale = jnp.asarray([1.0, 1.0, 3.0], jnp.float32)
    lifted = (wrench_center[2] > 0.02) | (radius < threshold)
    in_place = 0.1 * lifted.astype(jnp.float32) + 0.9 * reward_utils.tolerance(
        jnp.linalg.norm(pos_error * scale), bounds=(0.0, 0.02), margin=0.4, sigmoid="long_tail"
    )
    return in_place, success


def nut_info(reward, reward_grab, quat, in_place, success):
    """metaworld's info dict of both nut skills."""
    return skill_info(
        success=success.astype(jnp.float32),
        near_object=quat,
        grasp_success=(reward_grab >= 0.5).astype(jnp.float32),
        grasp_reward=reward_grab,
        in_place_reward=in_place,
        obj_to_target=jnp.zeros((), jnp.float32),
        unscaled_reward=reward,
    )


def evaluate(sim, data, obs, action, task):
    wrench_center = sim.site_xpos(data, "RoundNut")
    quat = reward_quat(obs)
    reward_grab = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        wrench_threshed(obs),
        obj_radius=0.015,
        pad_success_thresh=0.02,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        medium_density=True,
    )
    in_place, success = _reward_pos(wrench_center, task["target_pos"])
    reward = (2.0 * reward_grab + 6.0 * in_place) * quat
    reward = jnp.where(success, 10.0, reward)
    return reward, nut_info(reward, reward_grab, quat, in_place, success)


SKILL = Skill(
    name="assembly-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.75, 0.1),
    goal_high=(0.1, 0.85, 0.1),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
