"""pick-out-of-hole-v3: lift the puck out of a hole in the table slab to a goal in the air (metaworld
SawyerPickOutOfHoleEnvV3 in sawyer_pick_out_of_hole_v3.py, reward v2).

Metaworld semantics kept here:
* reset: obj_init_pos = rand_vec[:3] (always (0, 0.75, 0.02): the puck on the hole's floor), `_set_obj_xyz`;
  target = rand_vec[3:]. Metaworld resamples when puck and goal are within 15 cm in xy (never the case for
  frozen benchmark task vectors). objHeight / heightTarget / maxPlacingDist only feed the v1 reward.
* observed object: body "obj" com and its MuJoCo (w, x, y, z) xquat (metaworld's data.body("obj").xquat).
* reward: the base `_gripper_caging_reward` (obj_radius 0.015, pad threshold 0.02, xz threshold 0.03,
  desired effort 0.1, high density) x in_place (bounds 0.02, margin |obj_init - target|); when grasped
  (tcp within 4 cm, obs[3] >= 0.33, puck lifted 2 cm) + 1 + 5 * in_place x above_floor (the tcp above a
  log funnel around the puck's start); 10 when obj_to_target < self.TARGET_RADIUS, which is the base
  class's 0.05 (the skill's own `_TARGET_RADIUS = 0.02` is never read); success within 7 cm.

Scene (stock sawyer_pick_out_of_hole.xml: the table top at z = 0 and a 5.4 cm slab of four boxes around a
30 x 30 cm hole, x in +-0.15, y in 0.65..0.95): a stock contact survey over 5 expert episodes (500 steps
each) shows contacts only between the puck, the pads / claws and the table top (the hole's floor); the
slab is never touched (the puck is lifted straight up from the middle of the wide hole before moving to
the goal). So the scene is pick-place's: the puck cylinder on the table plane, the pads gripping the
vertical capsule `PUCK_PROXY` (MJX has no cylinder-box), plus pads and claws on the table plane (the
fingers close on the puck at the floor).
"""
from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.scene import SceneConfig
from envs.skills.common import PUCK_PROXY, TABLE, gripper_caging_reward, puck_pairs, set_free_joint_pos

HAND_INIT_POS = (0.0, 0.6, 0.2)
#: SawyerXYZEnv.TARGET_RADIUS: what metaworld's compute_reward reads (module doc).
TARGET_RADIUS = 0.05

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_pick_out_of_hole.xml",
    proxies=(TABLE, PUCK_PROXY),
    pairs=puck_pairs(pads_table=True, claws_table=True),
    iterations=4,
    ls_iterations=8,
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
    floor = jnp.where(radius <= threshold, 0.0,
                      0.015 * jnp.log(jnp.maximum(radius - threshold, 1e-12)) + 0.15)
    above_floor = jnp.where(tcp[2] >= floor, 1.0,
                            tol(jnp.maximum(floor - tcp[2], 0.0), bounds=(0.0, 0.01), margin=0.02,
                                sigmoid="long_tail"))
    grasped = gripper_caging_reward(sim, data, task, action, obj, obj_radius=0.015, pad_success_thresh=0.02,
                                    object_reach_radius=0.01, xz_thresh=0.03, desired_gripper_effort=0.1,
                                    high_density=True)
    in_place = tol(obj_to_target, bounds=(0.0, 0.02), margin=jnp.linalg.norm(obj_init - target),
                   sigmoid="long_tail")
    reward = reward_utils.hamacher_product(grasped, in_place)
    grasp_success = (tcp_to_obj < 0.04) & (obj[2] - 0.02 > obj_init[2]) & ~(obs[3] < 0.33)
    reward = jnp.where(grasp_success, reward + 1.0 + 5.0 * reward_utils.hamacher_product(in_place, above_floor),
                       reward)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    info = {
        "success": (obj_to_target <= 0.07).astype(jnp.float32),
        "near_object": (tcp_to_obj <= 0.03).astype(jnp.float32),
        "grasp_success": grasp_success.astype(jnp.float32),
        "grasp_reward": grasped,
        "in_place_reward": in_place,
        "obj_to_target": obj_to_target,
        "unscaled_reward": reward,
    }
    return reward, info


SKILL = Skill(
    name="pick-out-of-hole-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    hand_low=(-0.5, 0.40, -0.05),
    hand_high=(0.5, 1.0, 0.5),
    goal_low=(-0.1, 0.5, 0.15),
    goal_high=(0.1, 0.6, 0.3),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=False,  # its reward reads positions only (tests/envs/test_env_api.py checks)
)
