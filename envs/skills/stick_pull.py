"""stick-pull-v3: grasp the stick, hook it through the thermos' handle and pull the thermos to the goal
(metaworld SawyerStickPullEnvV3 in sawyer_stick_pull_v3.py, reward v2). Scene and shared semantics:
envs.skills.stick_obj (the same SceneConfig as stick-push-v3).

The held stick meets box proxies of the thermos' handle bars; the claws and HAND_BOX meet capsule proxies of the
bars, as metaworld's fingers help pull the thermos (stick_obj.SCENE). The reward follows metaworld's compute_reward
v2 line by line.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.skills.common import gripper_caging_reward
from envs.skills.stick_obj import OBJ_INIT_POS, SCENE, objects_with, place, tolerance

TARGET_RADIUS = 0.05


def reset(sim, data, rand_vec):
    data, stick_init = place(sim, data, rand_vec, (0.0, 0.09))
    target = jnp.stack([rand_vec[3], rand_vec[4], stick_init[2]])
    # obj_init_pos: metaworld's, the thermos' parent frame (what the base caging reward reads)
    return data, {
        "target_pos": target,
        "obj_init_pos": jnp.asarray(OBJ_INIT_POS, jnp.float32),
        "stick_init_pos": stick_init,
    }


def objects(sim, data, task):
    return objects_with(sim, data, sim.site_xpos(data, "insertion"))


def stick_is_inserted(handle, end_of_stick):
    return (
        (end_of_stick[0] >= handle[0])
        & (jnp.abs(end_of_stick[1] - handle[1]) <= 0.040)
        & (jnp.abs(end_of_stick[2] - handle[2]) <= 0.060)
    )


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    stick = obs[4:7]
    end_of_stick = sim.site_xpos(data, "stick_end")
    offset = jnp.asarray([0.05, 0.0, 0.0], jnp.float32)
    handle = obs[11:14]
    container = handle + offset
    obj_init = task["obj_init_pos"]
    container_init = obj_init + offset
    tcp_opened = obs[3]
    target = task["target_pos"]
    stick_init = task["stick_init_pos"]
    tcp_to_stick = jnp.linalg.norm(stick - tcp)
    handle_to_target = jnp.linalg.norm(handle - target)
    yz_scaling = jnp.asarray([1.0, 1.0, 2.0], jnp.float32)
    stick_in_place = tolerance(
        jnp.linalg.norm((stick - container) * yz_scaling),
        TARGET_RADIUS,
        jnp.linalg.norm((stick_init - container_init) * yz_scaling),
    )
    stick_in_place_2 = tolerance(jnp.linalg.norm(stick - target), TARGET_RADIUS, jnp.linalg.norm(stick_init - target))
    container_in_place = tolerance(
        jnp.linalg.norm(container - target), TARGET_RADIUS, jnp.linalg.norm(obj_init - target)
    )
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        stick,
        obj_radius=0.014,
        pad_success_thresh=0.05,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        high_density=True,
    )
    held = (tcp_to_stick < 0.02) & (tcp_opened > 0) & (stick[2] - 0.01 > stick_init[2])
    grasped = jnp.where(held, 1.0, grasped)
    in_place_and_grasped = reward_utils.hamacher_product(grasped, stick_in_place)
    inserted = stick_is_inserted(handle, end_of_stick)
    reward = jnp.where(held, 1.0 + in_place_and_grasped + 5.0 * stick_in_place, in_place_and_grasped)
    reward = jnp.where(
        held & inserted, 1.0 + in_place_and_grasped + 5.0 + 2.0 * stick_in_place_2 + 1.0 * container_in_place, reward
    )
    reward = jnp.where(held & inserted & (handle_to_target <= 0.12), 10.0, reward)
    touching = sim.touching(data, "objGeom")
    info = skill_info(
        success=((handle_to_target <= 0.12) & inserted).astype(jnp.float32),
        near_object=(tcp_to_stick <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (stick[2] - 0.02 > obj_init[2])).astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=stick_in_place,
        obj_to_target=handle_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="stick-pull-v3",
    scene=SCENE,
    hand_low=(-0.5, 0.35, 0.05),
    goal_low=(0.35, 0.45, 0.0199),
    goal_high=(0.45, 0.55, 0.0201),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=True,
)
