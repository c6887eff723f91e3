"""shelf-place-v3: pick a block up and put it on a shelf (metaworld SawyerShelfPlaceEnvV3 in
sawyer_shelf_place_v3.py, reward v2).

The shelf is not collided (metaworld's expert reaches it only after success); the stock pads and claws grip the
stock block box (box-box) on a table plane. Elliptic cone, as metaworld (pyramidal loses grasps).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills.common import CLAWS, PADS, TABLE, gripper_caging_reward, set_free_joint_pos

TARGET_RADIUS = 0.05
#: The goal site's position in the shelf body.
GOAL_IN_SHELF = (0.0, 0.0, 0.3)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_shelf_placing.xml",
    proxies=(TABLE,),
    pairs=(Pair("objGeom", TABLE.name),) + tuple(Pair(g, "objGeom") for g in PADS + CLAWS),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    z0 = jnp.asarray(sim.settled["qpos"][sim.joint_qpos("objjoint") + 2], jnp.float32)
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], z0])
    shelf_pos = rand_vec[3:6] - jnp.asarray([0.0, 0.0, 0.3], jnp.float32)
    target_pos = shelf_pos + jnp.asarray(GOAL_IN_SHELF, jnp.float32)
    model = {"body_pos": sim.mx.body_pos.at[sim.body("shelf")].set(shelf_pos)}
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    tcp_opened = obs[3]
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    obj_to_target = jnp.linalg.norm(obj - target)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    in_place_margin = jnp.linalg.norm(obj_init - target)
    in_place = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail"
    )
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.02,
        pad_success_thresh=0.05,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        high_density=False,
    )
    reward = reward_utils.hamacher_product(grasped, in_place)

    low = (0.0 < obj[2]) & (obj[2] < 0.24) & (target[0] - 0.15 < obj[0]) & (obj[0] < target[0] + 0.15)
    in_front = low & (target[1] - 3 * TARGET_RADIUS < obj[1]) & (obj[1] < target[1])
    z_scaling = (0.24 - obj[2]) / 0.24
    y_scaling = (obj[1] - (target[1] - 3 * TARGET_RADIUS)) / (3 * TARGET_RADIUS)
    bound_loss = reward_utils.hamacher_product(y_scaling, z_scaling)
    in_place = jnp.where(in_front, jnp.clip(in_place - bound_loss, 0.0, 1.0), in_place)
    in_place = jnp.where(low & (obj[1] > target[1]), 0.0, in_place)

    lifted = (tcp_to_obj < 0.025) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
    reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
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
    name="shelf-place-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.8, 0.299),
    goal_high=(0.1, 0.9, 0.301),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
