"""basketball-v3: pick the ball up and bring it over the hoop (metaworld SawyerBasketballEnvV3 in
sawyer_basketball_v3.py, reward v2).

The ball is a sphere on a table plane; the pads and claws grip a sphere proxy with their 1 mm margin folded into its
radius (MJX's sphere-box drops non-penetrating contacts). Capsule proxies of the rim's near side meet the left claw
and HAND_BOX; the backboard and pole are not collided. Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, Proxy, SceneConfig
from envs.skills.common import (
    CLAWS,
    FINGER_MARGIN,
    HAND_BOX,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    PAD_MARGIN,
    PADS,
    TABLE,
    combined_pair,
    euler_quat,
    gripper_pairs,
    gripper_caging_reward,
)

TARGET_RADIUS = 0.08
#: The goal site (hooplink frame) in the basket_goal body.
GOAL_IN_BASKET = (0.0, -0.083, 0.25)
#: metaworld's init_config obj_init_pos z (a float32 array).
OBJ_Z = 0.03
#: The ball (objGeom: sphere r = 0.03 on body "basketball") as the fingers see it.
BALL_PROXY = Proxy("ball_proxy", "basketball", "sphere", (0.03 + PAD_MARGIN,), like="objGeom")
#: The near half of the hoop's rim (stock: 8 unnamed capsules r = 0.01, half-length 0.016, class basketball_col,
#: whose contact parameters are OBJ_COL_CONTACT's): the edge facing the robot and its two diagonals, which the
#: left finger and the hand graze while coming down on a ball in front of the hoop. Radius + the folded 1 mm
#: finger margin.
RIM = tuple(
    Proxy(f"rim_proxy_{i}", "hooplink", "capsule", (0.01 + FINGER_MARGIN, 0.016), pos=pos, quat=quat)
    for i, (pos, quat) in enumerate(
        (
            ((0.0, -0.045, -0.001), euler_quat(0.0, 1.57, 0.0)),
            ((-0.031, -0.032, -0.001), euler_quat(1.57, 0.785, 0.0)),
            ((0.031, -0.032, -0.001), euler_quat(1.57, -0.785, 0.0)),
        )
    )
)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_basketball.xml",
    proxies=(TABLE, BALL_PROXY, HAND_BOX) + RIM,
    pairs=(Pair("objGeom", TABLE.name),)
    + tuple(Pair(BALL_PROXY.name, g, margin=0.0) for g in PADS + CLAWS)
    + sum((gripper_pairs(r.name, OBJ_COL_CONTACT, ("leftclaw_it",), fold_margin=True) for r in RIM), ())
    + tuple(combined_pair(HAND_BOX.name, HAND_MESH_CONTACT, r.name, OBJ_COL_CONTACT) for r in RIM),
    cone="elliptic",
)


def reset(sim, data, rand_vec):
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], jnp.asarray(OBJ_Z, jnp.float32)])
    basket_pos = rand_vec[3:6]
    target_pos = basket_pos + jnp.asarray(GOAL_IN_BASKET, jnp.float32)
    model = {"body_pos": sim.mx.body_pos.at[sim.body("basket_goal")].set(basket_pos)}
    # `_set_obj_xyz`: the ball's (unnamed) free joint is qpos[9:16], qvel[9:15].
    data = data.replace(
        qpos=data.qpos.at[sim.qpos_index(9, 12)].set(obj_init_pos), qvel=data.qvel.at[sim.dof_index(9, 15)].set(0.0)
    )
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}


def objects(sim, data, task):
    return sim.body_xpos(data, "bsktball"), sim.body_xquat(data, "bsktball")


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp_opened = obs[3]
    tcp = sim.tcp_center(data)
    target = task["target_pos"].at[2].set(0.3)
    obj_init = task["obj_init_pos"]
    scale = jnp.asarray([1.0, 1.0, 2.0], jnp.float32)
    target_to_obj = jnp.linalg.norm((obj - target) * scale)
    target_to_obj_init = jnp.linalg.norm((obj_init - target) * scale)
    in_place = reward_utils.tolerance(
        target_to_obj, bounds=(0.0, TARGET_RADIUS), margin=target_to_obj_init, sigmoid="long_tail"
    )
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.025,
        pad_success_thresh=0.06,
        object_reach_radius=0.01,
        xz_thresh=0.005,
        high_density=True,
    )
    lifted = (tcp_to_obj < 0.035) & (tcp_opened > 0) & (obj[2] - 0.01 > obj_init[2])
    grasped = jnp.where(lifted, 1.0, grasped)
    reward = reward_utils.hamacher_product(grasped, in_place)
    reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(target_to_obj < TARGET_RADIUS, 10.0, reward)
    info = skill_info(
        success=(target_to_obj <= TARGET_RADIUS).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.05).astype(jnp.float32),
        grasp_success=((tcp_opened > 0) & (obj[2] - 0.03 > obj_init[2])).astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=target_to_obj,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="basketball-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.85 - 0.083, 0.2499),
    goal_high=(0.1, 0.9 + 1e-7 - 0.083, 0.2501),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
