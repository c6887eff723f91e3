"""sweep-into-v3: sweep a block across the table into a hole (metaworld SawyerSweepIntoGoalEnvV3 in
sawyer_sweep_into_goal_v3.py, reward v2).

The slab of sawyer_table_with_hole.xml is a plane proxy at its top; the hole is not modelled (the block reaches it
only after success). The fingers grip a vertical capsule proxy of the block. Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, Proxy, SceneConfig
from envs.skills.common import BLOCK_PROXY, CLAWS, PADS, live_pad_caging_reward, set_free_joint_pos

TARGET_RADIUS = 0.05
OBJ_RADIUS = 0.02
GOAL = (0.0, 0.84, 0.02)
SLAB = Proxy("slab_proxy", "world", "plane", (0.0, 0.0, 0.01), pos=(0.0, 0.6, 0.05))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_table_with_hole.xml",
    proxies=(SLAB, BLOCK_PROXY),
    pairs=(Pair("objGeom", SLAB.name),)
    + tuple(Pair(g, BLOCK_PROXY.name, margin=0.0) for g in PADS + CLAWS)
    + tuple(Pair(g, SLAB.name) for g in PADS + CLAWS),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    z0 = jnp.asarray(sim.settled["qpos"][sim.joint_qpos("objjoint") + 2], jnp.float32)
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], z0])
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": jnp.asarray(GOAL, jnp.float32), "obj_init_pos": obj_init_pos}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    tcp_opened = obs[3]
    target = jnp.stack([task["target_pos"][0], task["target_pos"][1], obj[2]])
    obj_to_target = jnp.linalg.norm(obj - target)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    in_place_margin = jnp.linalg.norm(task["obj_init_pos"] - target)
    in_place = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail"
    )
    grasped = live_pad_caging_reward(sim, data, task, obj, OBJ_RADIUS)
    reward = 2.0 * grasped + 6.0 * reward_utils.hamacher_product(grasped, in_place)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, BLOCK_PROXY.name)
    info = skill_info(
        success=(obj_to_target <= 0.05).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_reward=grasped,
        grasp_success=(touching & (tcp_opened > 0)).astype(jnp.float32),
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="sweep-into-v3",
    scene=SCENE,
    goal_low=(-0.001, 0.8399, 0.0199),
    goal_high=(0.001, 0.8401, 0.0201),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
