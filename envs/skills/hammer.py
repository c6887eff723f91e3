"""hammer-v3: pick the hammer up and drive the nail into the block (metaworld SawyerHammerEnvV3 in
sawyer_hammer_v3.py, reward v2).

The hammer rests on a table plane through its stock handle capsule and cylinder proxies of its two head discs; the
fingers grip a capsule proxy of the handle (1 mm margin folded in); a sphere proxy of the nail head meets the +y
disc (MJX has no cylinder-cylinder without SDF iterations). Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    CLAWS,
    FINGER_MARGIN,
    MUJOCO_DEFAULT_CONTACT,
    OBJ_COL_CONTACT,
    PADS,
    TABLE,
    combined_pair,
    euler_quat,
    gripper_caging_reward,
    gripper_pairs,
)

HAND_INIT_POS = (0.0, 0.4, 0.2)
HAMMER_HANDLE_LENGTH = 0.14
#: The block's "goal" site in the world (block body at its stock (0.24, 0.85, 0), site at (0, -0.11, 0.11)).
GOAL = (0.24, 0.74, 0.11)
HEAD_OFFSET = (0.16, 0.06, 0.0)

_Y_AXIS = euler_quat(1.57, 0.0, 0.0)  # the stock `euler="1.57 0 0"` of the head discs and the nail
#: Pads and claws see the handle (stock capsule r 0.02, half-length 0.14 along the hammer's x) 1 mm thicker.
HANDLE = Proxy("handle_proxy", "hammer", "capsule", (0.02 + FINGER_MARGIN, 0.14), quat=euler_quat(0.0, 1.57, 0.0))
#: The two large head discs (stock cylinders r 0.038, half-height 0.016, axis y, unnamed).
DISC_NAIL_SIDE = Proxy("hammer_disc_pos", "hammer", "cylinder", (0.038, 0.016), pos=(0.16, 0.056, 0.0), quat=_Y_AXIS)
DISC_BACK = Proxy("hammer_disc_neg", "hammer", "cylinder", (0.038, 0.016), pos=(0.16, -0.056, 0.0), quat=_Y_AXIS)
#: The nail head (stock cylinder r 0.03, half-height 0.009, axis y, at the nail_link origin) as a sphere whose
#: -y pole is the head's face (y = -0.009).
NAIL_HEAD = Proxy("nail_head_proxy", "nail_link", "sphere", (0.03,), pos=(0.0, 0.03 - 0.009, 0.0))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_hammer.xml",
    proxies=(TABLE, HANDLE, DISC_NAIL_SIDE, DISC_BACK, NAIL_HEAD),
    pairs=(
        combined_pair("HammerHandle", OBJ_COL_CONTACT, TABLE.name, MUJOCO_DEFAULT_CONTACT),
        combined_pair(DISC_NAIL_SIDE.name, OBJ_COL_CONTACT, TABLE.name, MUJOCO_DEFAULT_CONTACT),
        combined_pair(DISC_BACK.name, OBJ_COL_CONTACT, TABLE.name, MUJOCO_DEFAULT_CONTACT),
        combined_pair(DISC_NAIL_SIDE.name, OBJ_COL_CONTACT, NAIL_HEAD.name, OBJ_COL_CONTACT),
    )
    + gripper_pairs(HANDLE.name, OBJ_COL_CONTACT, PADS + CLAWS, fold_margin=True),
    cone="elliptic",
)


def _hammer_adr(sim):
    """qpos / dof address of the hammer's (unnamed) free joint: metaworld's qpos[9:16], qvel[9:15]."""
    j = int(sim.model.body_jntadr[sim.body("hammerbody")])
    return int(sim.model.jnt_qposadr[j]), int(sim.model.jnt_dofadr[j])


def reset(sim, data, rand_vec):
    qa, da = _hammer_adr(sim)
    data = data.replace(qpos=data.qpos.at[qa : qa + 3].set(rand_vec), qvel=data.qvel.at[da : da + 6].set(0.0))
    return data, {"target_pos": jnp.asarray(GOAL, jnp.float32), "obj_init_pos": rand_vec}


def objects(sim, data, task):
    pos = jnp.concatenate([sim.body_xpos(data, "hammer"), sim.body_xpos(data, "nail_link")])
    quat = jnp.concatenate([sim.body_xquat(data, "hammer"), sim.body_xquat(data, "nail_link")])
    return pos, quat


def evaluate(sim, data, obs, action, task):
    hand = obs[:3]
    hammer = obs[4:7]
    head = hammer + jnp.asarray(HEAD_OFFSET, jnp.float32)
    threshed = hammer.at[0].set(
        jnp.where(jnp.abs(hammer[0] - hand[0]) < HAMMER_HANDLE_LENGTH / 2.0, hand[0], hammer[0])
    )
    reward_quat = jnp.maximum(1.0 - jnp.linalg.norm(obs[7:11] - jnp.asarray([1.0, 0.0, 0.0, 0.0])) / 0.4, 0.0)
    grab = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        threshed,
        obj_radius=0.015,
        pad_success_thresh=0.02,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        high_density=True,
    )
    in_place = 0.1 * (head[2] > 0.02).astype(jnp.float32) + 0.9 * reward_utils.tolerance(
        jnp.linalg.norm(task["target_pos"] - head), bounds=(0.0, 0.02), margin=0.2, sigmoid="long_tail"
    )
    reward = (2.0 * grab + 6.0 * in_place) * reward_quat
    success = data.qpos[sim.joint_qpos("NailSlideJoint")] > 0.09
    reward = jnp.where(success & (reward > 5.0), 10.0, reward)
    info = skill_info(
        success=success.astype(jnp.float32),
        near_object=reward_quat,
        grasp_success=(grab >= 0.5).astype(jnp.float32),
        grasp_reward=grab,
        in_place_reward=in_place,
        obj_to_target=jnp.zeros(()),
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="hammer-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    goal_low=(0.2399, 0.7399, 0.109),
    goal_high=(0.2401, 0.7401, 0.111),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
