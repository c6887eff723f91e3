"""door-close-v3: push an open hinged door shut (metaworld SawyerDoorCloseEnvV3 in sawyer_door_close_v3.py,
reward v2).

Scene as door-open (grip and stem capsules, door-edge stop) plus a capsule proxy of the hand mesh against copies of
the door panel box and the safe's right wall, which the hand pushes. Pyramidal cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    HAND_MESH,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    combined_pair,
    gripper_pairs,
)
from envs.skills.door_open import EDGE, FINGERS, GRIP, STEM, WALL

HAND_INIT_POS = (-0.5, 0.6, 0.2)
TARGET_RADIUS = 0.05

PANEL = Proxy("door_panel_proxy", "door_link", "box", (0.18, 0.01, 0.123), pos=(0.185, 0.0, 0.0))
RIGHT_WALL = Proxy("safe_right_wall_proxy", "doorlockB", "box", (0.016, 0.106, 0.15), pos=(0.204, 0.0, 0.0))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_door_pull.xml",
    proxies=(GRIP, STEM, EDGE, WALL, PANEL, RIGHT_WALL, HAND_MESH),
    pairs=gripper_pairs(GRIP.name, OBJ_COL_CONTACT, FINGERS, fold_margin=True)
    + gripper_pairs(STEM.name, OBJ_COL_CONTACT, FINGERS, fold_margin=True)
    + (
        combined_pair(EDGE.name, OBJ_COL_CONTACT, WALL.name, OBJ_COL_CONTACT),
        combined_pair(HAND_MESH.name, HAND_MESH_CONTACT, PANEL.name, OBJ_COL_CONTACT),
        combined_pair(HAND_MESH.name, HAND_MESH_CONTACT, RIGHT_WALL.name, OBJ_COL_CONTACT),
    ),
    cone="pyramidal",
)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = obj_init_pos + jnp.asarray([0.2, -0.2, 0.0])
    model = {
        "body_pos": sim.mx.body_pos.at[sim.body("door")].set(obj_init_pos),
        "site_pos": sim.mx.site_pos.at[sim.site("goal")].set(target_pos),
    }
    # `_set_obj_xyz(-1.5708)`: door open and at rest.
    qpos = data.qpos.at[sim.joint_qpos("doorjoint")].set(-1.5708)
    qvel = data.qvel.at[sim.joint_dof("doorjoint")].set(0.0)
    data = data.replace(qpos=qpos, qvel=qvel)
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def objects(sim, data, task):
    return sim.geom_xpos(data, "handle"), mat_to_quat_xyzw(sim.geom_xmat(data, "handle"))


def evaluate(sim, data, obs, action, task):
    del action
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    target = task["target_pos"]
    tcp_to_target = jnp.linalg.norm(tcp - target)
    obj_to_target = jnp.linalg.norm(obj - target)
    in_place = reward_utils.tolerance(
        obj_to_target,
        bounds=(0.0, TARGET_RADIUS),
        margin=jnp.linalg.norm(task["obj_init_pos"] - target),
        sigmoid="gaussian",
    )
    hand_init = jnp.asarray(HAND_INIT_POS, jnp.float32)
    hand_margin = jnp.linalg.norm(hand_init - obj) + 0.1
    hand_in_place = reward_utils.tolerance(
        tcp_to_target, bounds=(0.0, 0.25 * TARGET_RADIUS), margin=hand_margin, sigmoid="gaussian"
    )
    reward = 3.0 * hand_in_place + 6.0 * in_place
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    info = skill_info(
        success=(obj_to_target <= 0.08).astype(jnp.float32),
        near_object=jnp.zeros(()),
        grasp_success=jnp.ones(()),
        grasp_reward=jnp.ones(()),
        in_place_reward=hand_in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="door-close-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    goal_low=(0.2, 0.65, 0.1499),
    goal_high=(0.3, 0.75, 0.1501),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
