"""lever-pull-v3: lift a lever arm up to vertical (metaworld SawyerLeverPullEnvV3 in sawyer_lever_pull_v3.py,
reward v2).

The handle sphere is duplicated and the rod cylinder becomes a capsule proxy, both paired with the pads, the claws
and a box proxy of the hand mesh (HAND_BOX). Reset keeps metaworld's stale arm kinematics. Pyramidal cone, 4/8
iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    FINGER_MARGIN,
    HAND_BOX,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    combined_pair,
    gripper_pairs,
)

HAND_INIT_POS = (0.0, 0.4, 0.2)
LEVER_RADIUS = 0.2
FINGERS = ("leftpad_geom", "rightpad_geom", "leftclaw_it", "rightclaw_it")

#: class lever_col: same contact parameters as drawer_col / dl_col.
HANDLE = Proxy("lever_handle_proxy", "lever_link1", "sphere", (0.03,), pos=(0.0, -0.2, 0.0))
ROD = Proxy(
    "lever_rod_proxy",
    "lever_link1",
    "capsule",
    (0.012 + FINGER_MARGIN, 0.1),
    pos=(0.0, -0.091, 0.0),
    quat=(0.7071067811865476, 0.7071067811865476, 0.0, 0.0),
)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_lever_pull.xml",
    proxies=(HANDLE, ROD, HAND_BOX),
    pairs=gripper_pairs(HANDLE.name, OBJ_COL_CONTACT, FINGERS)
    + gripper_pairs(ROD.name, OBJ_COL_CONTACT, FINGERS, fold_margin=True)
    + (
        combined_pair(HAND_BOX.name, HAND_MESH_CONTACT, HANDLE.name, OBJ_COL_CONTACT),
        combined_pair(HAND_BOX.name, HAND_MESH_CONTACT, ROD.name, OBJ_COL_CONTACT),
    ),
    cone="pyramidal",
)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    lever_pos_init = obj_init_pos + jnp.asarray([0.12, -LEVER_RADIUS, 0.25])
    target_pos = obj_init_pos + jnp.asarray([0.12, 0.0, 0.25 + LEVER_RADIUS])
    model = {
        "body_pos": sim.mx.body_pos.at[sim.body("lever")].set(obj_init_pos),
        "site_pos": sim.mx.site_pos.at[sim.site("goal")].set(target_pos),
    }
    task = {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "lever_pos_init": lever_pos_init, "model": model}
    return data, task


def objects(sim, data, task):
    return sim.site_xpos(data, "leverStart"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def evaluate(sim, data, obs, action, task):
    del action
    gripper = obs[:3]
    lever = obs[4:7]
    scale = jnp.asarray([4.0, 1.0, 4.0])
    offset = jnp.asarray([0.0, 0.055, 0.07])
    init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
    shoulder_to_lever = jnp.linalg.norm((gripper + offset - lever) * scale)
    shoulder_to_lever_init = jnp.linalg.norm((init_tcp + offset - task["lever_pos_init"]) * scale)
    ready_to_lift = reward_utils.tolerance(
        shoulder_to_lever, bounds=(0.0, 0.02), margin=shoulder_to_lever_init, sigmoid="long_tail"
    )
    lever_angle = -data.qpos[sim.joint_qpos("LeverAxis")]
    lever_error = jnp.abs(lever_angle - math.pi / 2.0)
    lever_engagement = reward_utils.tolerance(
        lever_error, bounds=(0.0, math.pi / 48.0), margin=(math.pi / 2.0) - (math.pi / 12.0), sigmoid="long_tail"
    )
    target = task["target_pos"]
    obj_to_target = jnp.linalg.norm(lever - target)
    in_place_margin = jnp.linalg.norm(task["lever_pos_init"] - target)
    in_place = reward_utils.tolerance(obj_to_target, bounds=(0.0, 0.04), margin=in_place_margin, sigmoid="long_tail")
    reward = 10.0 * reward_utils.hamacher_product(ready_to_lift, in_place)
    info = skill_info(
        success=(lever_error <= math.pi / 24).astype(jnp.float32),
        near_object=(shoulder_to_lever < 0.03).astype(jnp.float32),
        grasp_success=(ready_to_lift > 0.9).astype(jnp.float32),
        grasp_reward=ready_to_lift,
        in_place_reward=lever_engagement,
        obj_to_target=shoulder_to_lever,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="lever-pull-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    hand_low=(-0.5, 0.40, -0.15),
    goal_low=(-0.5, 0.40, -0.15),
    goal_high=(0.5, 1.0, 0.5),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    stale_reset_arm=True,
)
