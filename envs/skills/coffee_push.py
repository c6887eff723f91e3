"""coffee-push-v3: push the mug under the coffee machine's spout (metaworld SawyerCoffeePushEnvV3, reward v2).

Also `mug_skill`, the builder shared with coffee-pull-v3 (the two differ in where the machine stands and in their
task ranges; the reward is the same).

Scene `envs.skills.coffee_button.SCENE`, shared by the three coffee skills: the pads grip the mug's vertical capsule
proxy, the mug stands on a table plane. Elliptic cone (a gripped, dragged object, as push-v3).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.skills import coffee_button
from envs.skills.common import gripper_caging_reward

_SCALE = jnp.array([2.0, 2.0, 1.0])


def mug_reset(machine_from_goal: bool):
    def reset(sim, data, rand_vec):
        start, goal = rand_vec[:3], rand_vec[3:]
        data = coffee_button.place_mug(sim, data, start)
        machine = (goal if machine_from_goal else start) + jnp.array([0.0, 0.22, 0.0])
        site_pos = sim.mx.site_pos.at[sim.site("mug_goal")].set(goal.astype(sim.mx.site_pos.dtype))
        task = {
            "target_pos": goal,
            "obj_init_pos": start,
            "model": {"body_pos": coffee_button.machine_at(sim, machine), "site_pos": site_pos},
        }
        return data, task

    return reset


def objects(sim, data, task):
    return sim.body_com(data, "obj"), mat_to_quat_xyzw(sim.geom_xmat(data, "mug"))


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    target = task["target_pos"]
    target_to_obj = jnp.linalg.norm((obj - target) * _SCALE)
    target_to_obj_init = jnp.linalg.norm((task["obj_init_pos"] - target) * _SCALE)
    in_place = reward_utils.tolerance(target_to_obj, bounds=(0.0, 0.05), margin=target_to_obj_init, sigmoid="long_tail")
    tcp_opened = obs[3]
    tcp_to_obj = jnp.linalg.norm(obj - sim.tcp_center(data))
    object_grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        object_reach_radius=0.04,
        obj_radius=0.02,
        pad_success_thresh=0.05,
        xz_thresh=0.05,
        desired_gripper_effort=0.7,
        medium_density=True,
    )
    reward = reward_utils.hamacher_product(object_grasped, in_place)
    reward = jnp.where((tcp_to_obj < 0.04) & (tcp_opened > 0), reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(target_to_obj < 0.05, 10.0, reward)
    obj_to_target = jnp.linalg.norm(obj - target)
    touching = sim.touching(data, coffee_button.MUG_GRIP.name)
    info = skill_info(
        success=(obj_to_target <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0)).astype(jnp.float32),
        grasp_reward=object_grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


def mug_skill(name: str, machine_from_goal: bool, goal_low, goal_high) -> Skill:
    return Skill(
        name=name,
        scene=coffee_button.SCENE,
        hand_init_pos=coffee_button.HAND_INIT_POS,
        goal_low=goal_low,
        goal_high=goal_high,
        reset=mug_reset(machine_from_goal),
        objects=objects,
        evaluate=evaluate,
        needs_contacts=True,
    )


SKILL = mug_skill("coffee-push-v3", True, (-0.05, 0.7, -0.001), (0.05, 0.75, 0.001))
