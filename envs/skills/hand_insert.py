"""hand-insert-v3: carry a block into a hole in the table slab (metaworld SawyerHandInsertEnvV3 in
sawyer_hand_insert_v3.py, reward v2).

The hole is modelled: one box proxy for the slab in front of it (box-box with the block) and a plane at the table
top / hole floor; the fingers grip a vertical capsule proxy of the block (common.BLOCK_PROXY); the slab beside and
behind the hole is left out. Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, Proxy, SceneConfig
from envs.skills.common import BLOCK_PROXY, CLAWS, PADS, TABLE, gripper_caging_reward, set_free_joint_pos

TARGET_RADIUS = 0.05
OBJ_INIT_Z = 0.05
#: Stock slab boxes of tablelink (body at y 0.6): the central strip x +-0.08, y 0.2..0.76 and the side
#: boxes |x| 0.08..0.7, y 0.2..1.0, all z -0.05..0.05; their union in front of the hole as one box.
SLAB_FRONT = Proxy("slab_front", "world", "box", (0.7, 0.28, 0.05), pos=(0.0, 0.48, 0.0))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_table_with_hole.xml",
    proxies=(TABLE, SLAB_FRONT, BLOCK_PROXY),
    pairs=(Pair("objGeom", SLAB_FRONT.name), Pair("objGeom", TABLE.name))
    + tuple(Pair(g, BLOCK_PROXY.name, margin=0.0) for g in PADS + CLAWS)
    + tuple(Pair(g, TABLE.name) for g in PADS + CLAWS),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], jnp.asarray(OBJ_INIT_Z, rand_vec.dtype)])
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": rand_vec[3:], "obj_init_pos": obj_init_pos}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), sim.body_xquat(data, "obj")  # metaworld: data.body("obj").xquat (w,x,y,z)


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp_opened = obs[3]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    obj_to_target = jnp.linalg.norm(obj - target)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    in_place = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=jnp.linalg.norm(obj_init - target), sigmoid="long_tail"
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
        xz_thresh=0.005,
        high_density=True,
    )
    reward = reward_utils.hamacher_product(grasped, in_place)
    reward = jnp.where((tcp_to_obj < 0.02) & (tcp_opened > 0), reward + 1.0 + 7.0 * in_place, reward)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, BLOCK_PROXY.name)
    info = skill_info(
        success=(obj_to_target <= 0.05).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (obj[2] - 0.02 > obj_init[2])).astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="hand-insert-v3",
    scene=SCENE,
    hand_low=(-0.5, 0.40, -0.15),
    goal_low=(-0.04, 0.8, -0.0201),
    goal_high=(0.04, 0.88, -0.0199),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
