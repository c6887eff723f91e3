"""bin-picking-v3: pick the cube out of the red bin and put it into the blue one (metaworld
SawyerBinPickingEnvV3 in sawyer_bin_picking_v3.py, reward v2).

A mass-less box copy of the cube (`CUBE`) is gripped by the stock pads and claws (box-box) and rests on a plane at
the bins' floor height; the bins' walls are not collided. Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import CLAWS, GEOM_CONTACT, PADS, combined_pair, gripper_caging_reward

TARGET_RADIUS = 0.05
#: The blue bin's frame (body bin_goal, fixed): metaworld's `_target_pos`.
BIN_GOAL = (0.12, 0.7, 0.0)
#: Classes obj_col (the cube, condim 4) and bin_col (the bins, condim 3): solimp 0.99 0.99 0.01, solref 0.01 1.
OBJ_COL = dict(
    condim=4, friction=(1.0, 0.005, 0.0001), solref=(0.01, 1.0), solimp=(0.99, 0.99, 0.01, 0.5, 2.0), margin=0.0
)
BIN_COL = dict(OBJ_COL, condim=3)
#: The cube's collision box (unnamed, class obj_col, half-size 0.02 on body objA) duplicated for explicit pairs.
CUBE = Proxy("cube_proxy", "objA", "box", (0.02, 0.02, 0.02))
#: The bins' floors (stock: 0.2 x 0.2 x 0.01 boxes whose tops are at z = 0.01).
BIN_FLOOR = Proxy("bin_floor_proxy", "world", "plane", (0.0, 0.0, 0.01), pos=(0.0, 0.7, 0.01))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_bin_picking.xml",
    proxies=(CUBE, BIN_FLOOR),
    pairs=(combined_pair(CUBE.name, OBJ_COL, BIN_FLOOR.name, BIN_COL),)
    + tuple(combined_pair(CUBE.name, OBJ_COL, g, GEOM_CONTACT[g]) for g in PADS + CLAWS),
    cone="elliptic",
)


def _cube_adr(sim):
    j = int(sim.model.body_jntadr[sim.body("obj")])
    return int(sim.model.jnt_qposadr[j]), int(sim.model.jnt_dofadr[j])


def reset(sim, data, rand_vec):
    qa, da = _cube_adr(sim)
    z0 = jnp.asarray(sim.settled["qpos"][qa + 2], jnp.float32)
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], z0])
    data = data.replace(qpos=data.qpos.at[qa : qa + 3].set(obj_init_pos), qvel=data.qvel.at[da : da + 6].set(0.0))
    target_pos = jnp.asarray(BIN_GOAL, jnp.float32)
    return data, {
        "target_pos": target_pos,
        "obj_init_pos": obj_init_pos,
        "target_to_obj_init": jnp.linalg.norm(obj_init_pos - target_pos),
    }


def objects(sim, data, task):
    return sim.body_xpos(data, "obj"), sim.body_xquat(data, "obj")


def _funnel(radius, threshold=0.03):
    safe = jnp.maximum(radius - threshold, 1e-12)
    return jnp.where(radius > threshold, 0.02 * jnp.log(safe) + 0.2, 0.0)


def evaluate(sim, data, obs, action, task):
    hand = obs[:3]
    obj = obs[4:7]
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    target_to_obj = jnp.linalg.norm(obj - target)
    in_place = reward_utils.tolerance(
        target_to_obj, bounds=(0.0, TARGET_RADIUS), margin=task["target_to_obj_init"], sigmoid="long_tail"
    )
    floor = jnp.minimum(
        _funnel(jnp.linalg.norm(hand[:2] - obj_init[:2])), _funnel(jnp.linalg.norm(hand[:2] - target[:2]))
    )
    above_floor = jnp.where(
        hand[2] >= floor,
        1.0,
        reward_utils.tolerance(jnp.maximum(floor - hand[2], 0.0), bounds=(0.0, 0.01), margin=0.05, sigmoid="long_tail"),
    )
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.015,
        pad_success_thresh=0.05,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        desired_gripper_effort=0.7,
        high_density=True,
    )
    reward = reward_utils.hamacher_product(grasped, in_place)
    near_object = jnp.linalg.norm(obj - hand) < 0.04
    pinched_without_obj = obs[3] < 0.43
    lifted = obj[2] - 0.02 > obj_init[2]
    grasp_success = near_object & lifted & ~pinched_without_obj
    reward = jnp.where(grasp_success, reward + 1.0 + 5.0 * reward_utils.hamacher_product(above_floor, in_place), reward)
    reward = jnp.where(target_to_obj < TARGET_RADIUS, 10.0, reward)
    info = skill_info(
        success=(target_to_obj <= 0.05).astype(jnp.float32),
        near_object=near_object.astype(jnp.float32),
        grasp_success=grasp_success.astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=target_to_obj,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="bin-picking-v3",
    scene=SCENE,
    hand_low=(-0.5, 0.40, 0.07),
    goal_low=(0.1199, 0.699, -0.001),
    goal_high=(0.1201, 0.701, 0.001),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
