"""sweep-v3: drag a block sideways across the table to x = 0.5 (metaworld SawyerSweepEnvV3 in
sawyer_sweep_v3.py, reward v2).

Stock colliders: the block box on a table plane, the stock pads and claws on the block box (box-box; a capsule proxy
of the block loses the dragged block). Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills.common import CLAWS, PADS, TABLE, live_pad_caging_reward

TARGET_RADIUS = 0.05
OBJ_RADIUS = 0.02

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_sweep_v3.xml",
    proxies=(TABLE,),
    pairs=(Pair("objGeom", TABLE.name),) + tuple(Pair(g, "objGeom") for g in PADS + CLAWS),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], jnp.asarray(0.02, jnp.float32)])
    target_pos = jnp.stack([jnp.asarray(0.5, jnp.float32), rand_vec[1], jnp.asarray(0.01, jnp.float32)])
    data = _place(sim, data, obj_init_pos)
    model = {"site_pos": sim.mx.site_pos.at[sim.site("goal")].set(target_pos)}
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def _place(sim, data, pos):
    """metaworld `_set_obj_xyz`: qpos[9:12] = pos, qvel[9:15] = 0 (the block's free joint is unnamed)."""
    return data.replace(
        qpos=data.qpos.at[sim.qpos_index(9, 12)].set(pos), qvel=data.qvel.at[sim.dof_index(9, 15)].set(0.0)
    )


def objects(sim, data, task):
    return sim.body_xpos(data, "obj"), sim.body_xquat(data, "obj")


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    tcp_opened = obs[3]
    target = task["target_pos"]
    obj_to_target = jnp.linalg.norm(obj - target)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    in_place_margin = jnp.linalg.norm(task["obj_init_pos"] - target)
    in_place = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail"
    )
    grasped = live_pad_caging_reward(sim, data, task, obj, OBJ_RADIUS, x_z_success_margin=0.005, grip_extra=0.01)
    reward = 2.0 * grasped + 6.0 * reward_utils.hamacher_product(grasped, in_place)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, "objGeom")
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
    name="sweep-v3",
    scene=SCENE,
    goal_low=(0.49, 0.6, 0.0),
    goal_high=(0.51, 0.7, 0.02),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
