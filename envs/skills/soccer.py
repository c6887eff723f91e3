"""soccer-v3: push the ball into the goal (metaworld SawyerSoccerEnvV3 in sawyer_soccer_v3.py, reward v2).

The ball is a sphere on a table plane, against the stock pads and claws (pair margin 0: MJX's sphere-box drops
non-penetrating contacts) and the hand mesh's capsule (common.HAND_MESH); the goal is not collided (reached only
after success). Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills.common import (
    CLAWS,
    HAND_MESH,
    HAND_MESH_CONTACT,
    PADS,
    TABLE,
    combined_pair,
    live_pad_caging_reward,
)

TARGET_RADIUS = 0.07
OBJ_RADIUS = 0.013
#: metaworld's init_config obj_init_pos z.
OBJ_Z = 0.03
#: The ball's collision geom objGeom (class soccer_col: sphere r = 0.026, solref 0.01 1, solimp 0.99 0.99 0.01).
SOCCER_COL_CONTACT = dict(
    condim=3, friction=(1.0, 0.005, 0.0001), solref=(0.01, 1.0), solimp=(0.99, 0.99, 0.01, 0.5, 2.0), margin=0.0
)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_soccer.xml",
    proxies=(TABLE, HAND_MESH),
    pairs=(Pair("objGeom", TABLE.name),)
    + tuple(Pair("objGeom", g, margin=0.0) for g in PADS + CLAWS)
    + (combined_pair(HAND_MESH.name, HAND_MESH_CONTACT, "objGeom", SOCCER_COL_CONTACT),),
    cone="elliptic",
)


def _place_ball(sim, data, pos):
    """`_set_obj_xyz`: the ball's (unnamed) free joint, qpos[9:12] = pos, qvel[9:15] = 0."""
    j = int(sim.model.body_jntadr[sim.body("soccer_ball")])
    qa, da = int(sim.model.jnt_qposadr[j]), int(sim.model.jnt_dofadr[j])
    return data.replace(qpos=data.qpos.at[qa : qa + 3].set(pos), qvel=data.qvel.at[da : da + 6].set(0.0))


def reset(sim, data, rand_vec):
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], jnp.asarray(OBJ_Z, jnp.float32)])
    target_pos = rand_vec[3:6]
    model = {"body_pos": sim.mx.body_pos.at[sim.body("goal_whole")].set(target_pos)}
    data = _place_ball(sim, data, obj_init_pos)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def objects(sim, data, task):
    b = sim.body("soccer_ball")
    return data.xpos[b], mat_to_quat_xyzw(data.xmat[b].reshape(3, 3))


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp_opened = obs[3]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    scale = jnp.asarray([3.0, 1.0, 1.0], jnp.float32)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    target_to_obj = jnp.linalg.norm((obj - target) * scale)
    target_to_obj_init = jnp.linalg.norm((obj - obj_init) * scale)  # sic: the current ball (metaworld)
    in_place = reward_utils.tolerance(
        target_to_obj, bounds=(0.0, TARGET_RADIUS), margin=target_to_obj_init, sigmoid="long_tail"
    )
    goal_line = target[1] - 0.1
    past_line = (obj[1] > goal_line) & (jnp.abs(obj[0] - target[0]) > 0.10)
    in_place = jnp.where(
        past_line, jnp.clip(in_place - 2 * ((obj[1] - goal_line) / (1 - goal_line)), 0.0, 1.0), in_place
    )
    grasped = live_pad_caging_reward(
        sim, data, task, obj, OBJ_RADIUS, pad_success_margin=0.05, x_z_success_margin=0.005, grip_extra=0.01
    )
    reward = 3.0 * grasped + 6.5 * in_place
    reward = jnp.where(target_to_obj < TARGET_RADIUS, 10.0, reward)
    obj_to_target = jnp.linalg.norm(obj - target)
    touching = sim.touching(data, "objGeom")
    info = skill_info(
        success=(obj_to_target <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (obj[2] - 0.02 > obj_init[2])).astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="soccer-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.8, 0.0),
    goal_high=(0.1, 0.9, 0.0),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
