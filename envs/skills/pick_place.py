"""pick-place-v3: grasp the puck and carry it to a goal in the air (metaworld SawyerPickPlaceEnvV3, reward v2).

Keeps metaworld's quirk of live-view "initial" pad positions in the caging reward. Scene as push-v3: the pads grip
the capsule `PUCK_PROXY`, the stock cylinder rests on a table plane; elliptic cone (pyramidal lets the held puck
slip along the grip axis).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import SceneConfig
from envs.skills.common import PUCK_PROXY, TABLE, metaworld_init_pads, puck_pairs, set_free_joint_pos

TARGET_RADIUS = 0.05
MAIN_OBJECT = PUCK_PROXY.name

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_pick_place_v3.xml",
    proxies=(TABLE, PUCK_PROXY),
    pairs=puck_pairs(),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = rand_vec[3:]
    data = set_free_joint_pos(sim, data, "objjoint", obj_init_pos)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos}


def objects(sim, data, task):
    return sim.body_com(data, "obj"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def caging_reward(sim, data, task, action, obj_pos):
    """SawyerPickPlaceEnvV3._gripper_caging_reward (its own override), init pads = live pads."""
    pad_success_margin = 0.05
    x_z_success_margin = 0.005
    obj_radius = 0.015
    tcp = sim.tcp_center(data)
    left_pad = sim.body_com(data, "leftpad")
    right_pad = sim.body_com(data, "rightpad")
    init_left_pad, init_right_pad = metaworld_init_pads(sim, data)  # == current pads (module doc)
    delta_left = left_pad[1] - obj_pos[1]
    delta_right = obj_pos[1] - right_pad[1]
    right_margin = jnp.abs(jnp.abs(obj_pos[1] - init_right_pad[1]) - pad_success_margin)
    left_margin = jnp.abs(jnp.abs(obj_pos[1] - init_left_pad[1]) - pad_success_margin)
    right_caging = reward_utils.tolerance(
        delta_right, bounds=(obj_radius, pad_success_margin), margin=right_margin, sigmoid="long_tail"
    )
    left_caging = reward_utils.tolerance(
        delta_left, bounds=(obj_radius, pad_success_margin), margin=left_margin, sigmoid="long_tail"
    )
    y_caging = reward_utils.hamacher_product(left_caging, right_caging)
    xz = jnp.array([0, 2])
    tcp_obj_xz = jnp.linalg.norm(tcp[xz] - obj_pos[xz])
    obj_init = task["obj_init_pos"]
    init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
    xz_margin = jnp.linalg.norm(obj_init[xz] - init_tcp[xz]) - x_z_success_margin
    x_z_caging = reward_utils.tolerance(
        tcp_obj_xz, bounds=(0.0, x_z_success_margin), margin=xz_margin, sigmoid="long_tail"
    )
    gripper_closed = jnp.clip(action[-1], 0.0, 1.0)
    caging = reward_utils.hamacher_product(y_caging, x_z_caging)
    gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
    caging_and_gripping = reward_utils.hamacher_product(caging, gripping)
    return (caging_and_gripping + caging) / 2


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp_opened = obs[3]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    obj_to_target = jnp.linalg.norm(obj - target)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    in_place_margin = jnp.linalg.norm(obj_init - target)
    in_place = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail"
    )
    object_grasped = caging_reward(sim, data, task, action, obj)
    reward = reward_utils.hamacher_product(object_grasped, in_place)
    lifted = (tcp_to_obj < 0.02) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
    reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, MAIN_OBJECT)
    info = skill_info(
        success=(obj_to_target <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (obj[2] - 0.02 > obj_init[2])).astype(jnp.float32),
        grasp_reward=object_grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="pick-place-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.8, 0.05),
    goal_high=(0.1, 0.9, 0.3),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
