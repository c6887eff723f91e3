"""pick-out-of-hole-v3: lift the puck out of a hole in the table slab to a goal in the air (metaworld
SawyerPickOutOfHoleEnvV3 in sawyer_pick_out_of_hole_v3.py, reward v2).

pick-place's scene: the puck cylinder on a table plane (the hole's floor), the pads gripping the vertical capsule
`PUCK_PROXY`, pads and claws on the plane; the slab around the wide hole is not collided. Elliptic cone, 4/8
iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import SceneConfig
from envs.skills.common import PUCK_PROXY, TABLE, gripper_caging_reward, puck_pairs, set_free_joint_pos

#: SawyerXYZEnv.TARGET_RADIUS: what metaworld's compute_reward reads (module doc).
TARGET_RADIUS = 0.05

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_pick_out_of_hole.xml",
    proxies=(TABLE, PUCK_PROXY),
    pairs=puck_pairs(pads_table=True, claws_table=True),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": rand_vec[3:], "obj_init_pos": obj_init_pos}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), sim.body_xquat(data, "obj")


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    obj_to_target = jnp.linalg.norm(obj - target)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    tol = reward_utils.tolerance
    threshold = 0.03
    radius = jnp.linalg.norm(tcp[:2] - obj_init[:2])
    floor = jnp.where(radius <= threshold, 0.0, 0.015 * jnp.log(jnp.maximum(radius - threshold, 1e-12)) + 0.15)
    above_floor = jnp.where(
        tcp[2] >= floor,
        1.0,
        tol(jnp.maximum(floor - tcp[2], 0.0), bounds=(0.0, 0.01), margin=0.02, sigmoid="long_tail"),
    )
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.015,
        pad_success_thresh=0.02,
        object_reach_radius=0.01,
        xz_thresh=0.03,
        desired_gripper_effort=0.1,
        high_density=True,
    )
    in_place = tol(obj_to_target, bounds=(0.0, 0.02), margin=jnp.linalg.norm(obj_init - target), sigmoid="long_tail")
    reward = reward_utils.hamacher_product(grasped, in_place)
    grasp_success = (tcp_to_obj < 0.04) & (obj[2] - 0.02 > obj_init[2]) & ~(obs[3] < 0.33)
    reward = jnp.where(grasp_success, reward + 1.0 + 5.0 * reward_utils.hamacher_product(in_place, above_floor), reward)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    info = skill_info(
        success=(obj_to_target <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=grasp_success.astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="pick-out-of-hole-v3",
    scene=SCENE,
    hand_low=(-0.5, 0.40, -0.05),
    goal_low=(-0.1, 0.5, 0.15),
    goal_high=(0.1, 0.6, 0.3),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=False,  # its reward reads positions only (tests/envs/test_env_api.py checks)
)
