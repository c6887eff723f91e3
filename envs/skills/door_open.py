"""door-open-v3: swing a hinged door open by its handle (metaworld SawyerDoorEnvV3 in
sawyer_door_v3.py, reward v2).

The door's box and cylinder colliders become capsule proxies of the handle grip and stem (MJX has no cylinder-box),
paired with the pads and claws; a capsule on the door's hinge edge against a copy of the safe's left wall is the
door stop. Pyramidal cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import FINGER_MARGIN, OBJ_COL_CONTACT, combined_pair, euler_quat, gripper_pairs


GRIP = Proxy(
    "door_grip_proxy",
    "door_link",
    "capsule",
    (0.023 + FINGER_MARGIN, 0.05),
    pos=(0.38, -0.12, 0.0),
    quat=euler_quat(0.0, 1.57, 0.0),
)
STEM = Proxy(
    "door_stem_proxy",
    "door_link",
    "capsule",
    (0.013 + FINGER_MARGIN, 0.034),
    pos=(0.325, -0.065, 0.0),
    quat=euler_quat(1.57, 0.0, 0.0),
)
EDGE_R = 0.004
EDGE = Proxy(
    "door_edge_proxy", "door_link", "capsule", (EDGE_R, 0.123 - EDGE_R), pos=(0.005 + EDGE_R, -0.01 + EDGE_R, 0.0)
)
WALL = Proxy("safe_wall_proxy", "doorlockB", "box", (0.016, 0.106, 0.15), pos=(-0.204, 0.0, 0.0))

FINGERS = ("leftpad_geom", "rightpad_geom", "leftclaw_it", "rightclaw_it")

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_door_pull.xml",
    proxies=(GRIP, STEM, EDGE, WALL),
    pairs=gripper_pairs(GRIP.name, OBJ_COL_CONTACT, FINGERS, fold_margin=True)
    + gripper_pairs(STEM.name, OBJ_COL_CONTACT, FINGERS, fold_margin=True)
    + (combined_pair(EDGE.name, OBJ_COL_CONTACT, WALL.name, OBJ_COL_CONTACT),),
    cone="pyramidal",
)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = obj_init_pos + jnp.asarray([-0.3, -0.45, 0.0])
    model = {
        "body_pos": sim.mx.body_pos.at[sim.body("door")].set(obj_init_pos),
        "site_pos": sim.mx.site_pos.at[sim.site("goal")].set(target_pos),
    }
    # `_set_obj_xyz(0)`: door closed and at rest.
    qpos = data.qpos.at[sim.joint_qpos("doorjoint")].set(0.0)
    qvel = data.qvel.at[sim.joint_dof("doorjoint")].set(0.0)
    data = data.replace(qpos=qpos, qvel=qvel)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def objects(sim, data, task):
    return sim.geom_xpos(data, "handle"), mat_to_quat_xyzw(sim.geom_xmat(data, "handle"))


def evaluate(sim, data, obs, action, task):
    theta = data.qpos[sim.joint_qpos("doorjoint")]
    target = task["target_pos"]
    reward_grab = (jnp.clip(action[3], -1.0, 1.0) + 1.0) / 2.0

    # _reward_pos
    hand = obs[:3]
    door = obs[4:7] + jnp.asarray([-0.05, 0.0, 0.0])
    threshold = 0.12
    radius = jnp.linalg.norm(hand[:2] - door[:2])
    floor = jnp.where(radius <= threshold, 0.0, 0.04 * jnp.log(jnp.maximum(radius - threshold, 1e-30)) + 0.4)
    below = reward_utils.tolerance(floor - hand[2], bounds=(0.0, 0.01), margin=floor / 2.0, sigmoid="long_tail")
    above_floor = jnp.where(hand[2] >= floor, 1.0, below)
    in_place = reward_utils.tolerance(
        jnp.linalg.norm(hand - door - jnp.asarray([0.05, 0.03, -0.01])),
        bounds=(0.0, threshold / 2.0),
        margin=0.5,
        sigmoid="long_tail",
    )
    ready = reward_utils.hamacher_product(above_floor, in_place)
    door_angle = -theta
    opened = 0.2 * (theta < -math.pi / 90.0).astype(jnp.float32) + 0.8 * reward_utils.tolerance(
        math.pi / 2.0 + math.pi / 6 - door_angle, bounds=(0.0, 0.5), margin=math.pi / 3.0, sigmoid="long_tail"
    )

    success = jnp.abs(obs[4] - target[0]) <= 0.08
    reward = 2.0 * reward_utils.hamacher_product(ready, reward_grab) + 8.0 * opened
    reward = jnp.where(success, 10.0, reward)
    info = skill_info(
        success=success.astype(jnp.float32),
        near_object=ready,
        grasp_success=(reward_grab >= 0.5).astype(jnp.float32),
        grasp_reward=reward_grab,
        in_place_reward=opened,
        obj_to_target=jnp.zeros(()),
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="door-open-v3",
    scene=SCENE,
    goal_low=(-0.3, 0.4, 0.1499),
    goal_high=(-0.2, 0.5, 0.1501),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
