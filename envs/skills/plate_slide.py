"""plate-slide-v3: push a plate (hockey puck) across the table into a goal cabinet (metaworld
SawyerPlateSlideEnvV3 in sawyer_plate_slide_v3.py, reward v2). Also the shared builder of the four plate
skills (plate-slide, plate-slide-back, plate-slide-side, plate-slide-back-side).

The table is a plane proxy and the stock pads and claws push the stock plate box (box-box); the goal cabinet is not
collided (the expert never touches it). Pyramidal cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills.common import CLAWS, PADS, TABLE

HAND_LOW = (-0.5, 0.40, 0.05)
HAND_HIGH = (0.5, 1.0, 0.5)
TARGET_RADIUS = 0.05
SUCCESS_RADIUS = 0.07
PLATE = "puck"


def plate_scene(xml: str, claws_table: bool = False) -> SceneConfig:
    """The scene of a plate skill: plate box on the table plane, pads and claws against the plate box;
    optionally the claws against the table too."""
    return SceneConfig(
        xml=xml,
        proxies=(TABLE,),
        pairs=(Pair(PLATE, TABLE.name),)
        + tuple(Pair(g, PLATE) for g in PADS + CLAWS)
        + (tuple(Pair(g, TABLE.name) for g in CLAWS) if claws_table else ()),
        cone="pyramidal",
    )


SCENE = plate_scene("sawyer_xyz/sawyer_plate_slide.xml")


def _reset_fn(plate_qpos, goal_body_at: str | None):
    """metaworld's reset_model of a plate skill: plate joints = plate_qpos; the cabinet body moved to the
    target ("target"), to obj_init_pos ("obj") or left at its stock pose (None); the goal site at the target."""

    def reset(sim, data, rand_vec):
        obj_init_pos = rand_vec[:3]
        target_pos = rand_vec[3:6]
        qa = sim.joint_qpos("goal_slidex")
        da = sim.joint_dof("goal_slidex")
        data = data.replace(
            qpos=data.qpos.at[qa : qa + 2].set(jnp.asarray(plate_qpos, data.qpos.dtype)),
            qvel=data.qvel.at[da : da + 2].set(0.0),
        )
        model = {"site_pos": sim.mx.site_pos.at[sim.site("goal")].set(target_pos.astype(sim.mx.site_pos.dtype))}
        if goal_body_at is not None:
            where = target_pos if goal_body_at == "target" else obj_init_pos
            model["body_pos"] = sim.mx.body_pos.at[sim.body("puck_goal")].set(where.astype(sim.mx.body_pos.dtype))
        return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "model": model}

    return reset


def objects(sim, data, task):
    return sim.geom_xpos(data, PLATE), mat_to_quat_xyzw(sim.geom_xmat(data, PLATE))


def _evaluate_fn(form: str):
    if form not in ("front", "back"):
        raise ValueError(f"unknown plate reward form {form!r}")

    def evaluate(sim, data, obs, action, task):
        tcp = sim.tcp_center(data)
        obj = obs[4:7]
        target = task["target_pos"]
        obj_init = task["obj_init_pos"]
        init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
        obj_to_target = jnp.linalg.norm(obj - target)
        tcp_to_obj = jnp.linalg.norm(tcp - obj)
        in_place_margin = jnp.linalg.norm(obj_init - target)
        grasped_margin = jnp.linalg.norm(init_tcp - obj_init)
        if form == "back":
            in_place_margin = in_place_margin - TARGET_RADIUS
            grasped_margin = grasped_margin - TARGET_RADIUS
        tol = reward_utils.tolerance
        in_place = tol(obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail")
        grasped = tol(tcp_to_obj, bounds=(0.0, TARGET_RADIUS), margin=grasped_margin, sigmoid="long_tail")
        if form == "front":
            reward = 8.0 * reward_utils.hamacher_product(grasped, in_place)
        else:
            reward = jnp.where((tcp[2] <= 0.03) & (tcp_to_obj < 0.07), 2.0 + 7.0 * in_place, 1.5 * grasped)
        reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
        info = skill_info(
            success=(obj_to_target <= SUCCESS_RADIUS).astype(jnp.float32),
            near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
            grasp_reward=grasped,
            grasp_success=jnp.zeros(()),
            in_place_reward=in_place,
            obj_to_target=obj_to_target,
            unscaled_reward=reward,
        )
        return reward, info

    return evaluate


def plate_skill(name: str, scene: SceneConfig, goal_low, goal_high, plate_qpos, goal_body_at, form: str) -> Skill:
    return Skill(
        name=name,
        scene=scene,
        goal_low=goal_low,
        goal_high=goal_high,
        reset=_reset_fn(plate_qpos, goal_body_at),
        objects=objects,
        evaluate=_evaluate_fn(form),
    )


SKILL = plate_skill("plate-slide-v3", SCENE, (-0.1, 0.85, 0.0), (0.1, 0.9, 0.0), (0.0, 0.0), "target", "front")
