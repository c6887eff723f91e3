"""reach-v3: move the gripper's tcp to a goal position (metaworld SawyerReachEnvV3, reward v2).

Stock scene; only the puck collides, resting on a table plane proxy (the expert never touches it). Stock elliptic
cone, which lets reach share push's physics family.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import HAND_INIT_POS, Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills.common import TABLE, set_free_joint_pos

TARGET_RADIUS = 0.05

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_reach_v3.xml",
    proxies=(TABLE,),
    # Only the puck rests on the table; the reach expert never touches it.
    pairs=(Pair("objGeom", "table_proxy"),),
    # Metaworld's (stock) cone; the resting puck is the only contact, and it lets reach share push's family.
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = rand_vec[3:]
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    tcp_to_target = jnp.linalg.norm(tcp - target)
    in_place_margin = jnp.linalg.norm(jnp.asarray(HAND_INIT_POS) - target)
    in_place = reward_utils.tolerance(
        tcp_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail"
    )
    reward = 10.0 * in_place
    info = skill_info(
        success=(tcp_to_target <= 0.05).astype(jnp.float32),
        near_object=tcp_to_target,
        grasp_success=jnp.ones(()),
        grasp_reward=tcp_to_target,
        in_place_reward=in_place,
        obj_to_target=tcp_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="reach-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.8, 0.05),
    goal_high=(0.1, 0.9, 0.3),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
