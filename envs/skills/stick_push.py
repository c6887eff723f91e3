"""stick-push-v3: grasp the stick and push the thermos with it to the goal (metaworld SawyerStickPushEnvV3 in
sawyer_stick_push_v3.py, reward v2). Scene and shared semantics: envs.skills.stick_obj.

The thermos keeps the +x velocity of metaworld's settle and slides to its limit by itself; the held stick meets the
thermos body through a capsule proxy (MJX has no box-cylinder). Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs.sawyer import Skill, skill_info
from envs.skills.common import gripper_caging_reward
from envs.skills.stick_obj import INSERTION_Z, OBJ_INIT_POS, SCENE, objects_with, place, tolerance

TARGET_RADIUS = 0.12
#: The thermos axis relative to the insertion site (what metaworld observes as the container).
CONTAINER_OFFSET = (0.0, 0.09, 0.0)


def reset(sim, data, rand_vec):
    data, stick_init = place(sim, data, rand_vec, (0.0, 0.0))
    target = jnp.stack([rand_vec[3], rand_vec[4], jnp.asarray(INSERTION_Z, jnp.float32)])
    return data, {
        "target_pos": target,
        "obj_init_pos": stick_init,
        "container_init_pos": jnp.asarray(OBJ_INIT_POS, jnp.float32),
    }


def objects(sim, data, task):
    return objects_with(sim, data, sim.site_xpos(data, "insertion") + jnp.asarray(CONTAINER_OFFSET, jnp.float32))


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    stick = obs[4:7] + jnp.asarray([0.015, 0.0, 0.0], jnp.float32)
    container = obs[11:14]
    tcp_opened = obs[3]
    target = task["target_pos"]
    stick_init = task["obj_init_pos"]
    tcp_to_stick = jnp.linalg.norm(stick - tcp)
    stick_to_target = jnp.linalg.norm(stick - target)
    stick_in_place = tolerance(stick_to_target, TARGET_RADIUS, jnp.linalg.norm(stick_init - target) - TARGET_RADIUS)
    container_to_target = jnp.linalg.norm(container - target)
    container_in_place = tolerance(
        container_to_target, TARGET_RADIUS, jnp.linalg.norm(task["container_init_pos"] - target) - TARGET_RADIUS
    )
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        stick,
        obj_radius=0.04,
        pad_success_thresh=0.05,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        high_density=True,
    )
    held = (tcp_to_stick < 0.02) & (tcp_opened > 0) & (stick[2] - 0.01 > stick_init[2])
    reward = jnp.where(held, 2.0 + 5.0 * stick_in_place + 3.0 * container_in_place, grasped)
    reward = jnp.where(held & (container_to_target <= TARGET_RADIUS), 10.0, reward)
    grasped = jnp.where(held, 1.0, grasped)
    touching = sim.touching(data, "objGeom")
    grasp_success = touching & (tcp_opened > 0) & (obs[6] - 0.01 > stick_init[2])
    info = skill_info(
        success=(grasp_success & (container_to_target <= TARGET_RADIUS)).astype(jnp.float32),
        near_object=(tcp_to_stick <= 0.03).astype(jnp.float32),
        grasp_success=grasp_success.astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=stick_in_place,
        obj_to_target=container_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="stick-push-v3",
    scene=SCENE,
    goal_low=(0.399, 0.55, 0.1319),
    goal_high=(0.401, 0.6, 0.1321),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
