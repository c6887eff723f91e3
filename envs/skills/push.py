"""push-v3: push the puck to a goal on the table (metaworld SawyerPushEnvV3, reward v2).

The pads grip the puck through a vertical capsule proxy (`PUCK_PROXY`; MJX has no cylinder-box); the stock puck
cylinder rests on a table plane; finger-table pairs are left out. Elliptic (stock) cone: the pyramidal one lets the
gripped puck drift along the grip axis.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import SceneConfig
from envs.skills.common import (
    PUCK_PROXY,
    TABLE,
    gripper_caging_reward,
    puck_pairs,
    set_free_joint_pos,
)

TARGET_RADIUS = 0.05
#: Geom whose pad contacts make `touching_main_object` (stock: objGeom, a cylinder).
MAIN_OBJECT = PUCK_PROXY.name

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_push_v3.xml",
    proxies=(TABLE, PUCK_PROXY),
    pairs=puck_pairs(),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    # metaworld reads obj_init_pos[2] = get_body_com("obj")[2] after the hand settle, before placing
    # the puck (the puck's settled height); target z is that height too.
    z0 = jnp.asarray(sim.settled["qpos"][sim.joint_qpos("objjoint") + 2], jnp.float32)
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], z0])
    target_pos = jnp.stack([rand_vec[3], rand_vec[4], z0])
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp_opened = obs[3]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    target_to_obj = jnp.linalg.norm(obj - target)
    target_to_obj_init = jnp.linalg.norm(obj_init - target)
    in_place = reward_utils.tolerance(
        target_to_obj, bounds=(0.0, TARGET_RADIUS), margin=target_to_obj_init, sigmoid="long_tail"
    )
    object_grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        object_reach_radius=0.01,
        obj_radius=0.015,
        pad_success_thresh=0.05,
        xz_thresh=0.005,
        high_density=True,
    )
    reward = 2.0 * object_grasped
    reward = jnp.where((tcp_to_obj < 0.02) & (tcp_opened > 0), 1.0 + 2.0 * reward + 5.0 * in_place, reward)
    reward = jnp.where(target_to_obj < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, MAIN_OBJECT)
    info = skill_info(
        success=(target_to_obj <= TARGET_RADIUS).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (obj[2] - 0.02 > obj_init[2])).astype(jnp.float32),
        grasp_reward=object_grasped,
        in_place_reward=in_place,
        obj_to_target=target_to_obj,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="push-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.8, 0.01),
    goal_high=(0.1, 0.9, 0.02),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
