"""handle-press-v3: press a handle down on its slide joint (metaworld SawyerHandlePressEnvV3 in
sawyer_handle_press_v3.py, reward v2). Also the shared builder of the four handle skills (handle-press,
handle-pull, handle-press-side, handle-pull-side).

The two unnamed handle colliders are duplicated on handle_link: the lever box as a box, the grip cylinder as a
capsule (MJX has no cylinder-box) with the finger margin folded in; the base is not collided. The hand settle is per
task (the arm can brush the grip). Elliptic cone: the pyramidal one lets the closed pads sink into the handle.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import HAND_INIT_POS, Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills import task_settle
from envs.skills.common import (
    CLAWS,
    FINGER_MARGIN,
    OBJ_COL_CONTACT,
    PADS,
    euler_quat,
    gripper_caging_reward,
    gripper_pairs,
)

HAND_LOW = (-0.5, 0.40, 0.05)
HAND_HIGH = (0.5, 1.0, 0.5)
PRESS_RADIUS = 0.02
PULL_RADIUS = 0.05
FINGERS = PADS + CLAWS

LEVER = Proxy("handle_lever_proxy", "handle_link", "box", (0.032, 0.075, 0.011), pos=(0.0, -0.081, 0.0))
GRIP = Proxy(
    "handle_grip_proxy",
    "handle_link",
    "capsule",
    (0.022 + FINGER_MARGIN, 0.07),
    pos=(0.0, -0.166, 0.0),
    quat=euler_quat(0.0, 1.57, 0.0),
)


def handle_scene(xml: str) -> SceneConfig:
    return SceneConfig(
        xml=xml,
        proxies=(LEVER, GRIP),
        pairs=gripper_pairs(LEVER.name, OBJ_COL_CONTACT, FINGERS)
        + gripper_pairs(GRIP.name, OBJ_COL_CONTACT, FINGERS, fold_margin=True),
        cone="elliptic",
    )


SCENE = handle_scene("sawyer_xyz/sawyer_handle_press.xml")


def hand_settle(sim, data, model, rand_vec):
    """metaworld's reset hand settle for the task's box pose (`model`): `envs.skills.task_settle.hand_settle`.
    It depends on the task here: the arm, swinging from its qpos0 pose to hand_init_pos, may brush the
    handle's grip with a pad and a claw (measured: in every handle-press / handle-pull task, and in
    handle-*-side tasks with the box at x > ~-0.28; the settled arm joints then differ by up to 5.7e-3 rad,
    the reset hand position by up to ~7e-4 m when simulated). Returns (data, init_tcp, exact)."""
    return task_settle.hand_settle(sim, data, model, HAND_INIT_POS, moved_body="box", rand_vec=rand_vec)


def _reset_fn(handle_qpos: float, goal_site: str, obj_site: str, obj_init: str):
    """Place the box at rand_vec, settle the hand, set the handle joint; target = goal_site; obj_init_pos =
    rand_vec ("box") or obj_site's reset position ("handle")."""

    def reset(sim, data, rand_vec):
        box = rand_vec[:3]
        body_pos = sim.mx.body_pos.at[sim.body("box")].set(box.astype(sim.mx.body_pos.dtype))
        model = sim.mx.replace(body_pos=body_pos)
        data, init_tcp, exact = hand_settle(sim, data, model, rand_vec)
        # metaworld `_set_obj_xyz`: qpos[9] / qvel[9], the handle's (unnamed) slide joint.
        data = data.replace(
            qpos=data.qpos.at[sim.qpos_index(9, 10)].set(handle_qpos), qvel=data.qvel.at[sim.dof_index(9, 10)].set(0.0)
        )
        kin = mjx.kinematics(model, data)
        handle_init = kin.site_xpos[sim.site(obj_site)]
        task = {
            "target_pos": kin.site_xpos[sim.site(goal_site)],
            "obj_init_pos": box if obj_init == "box" else handle_init,
            "handle_init_pos": handle_init,
            "init_tcp": init_tcp,
            "settle_exact": exact.astype(jnp.float32),
            "model": {"body_pos": body_pos},
        }
        return data, task

    return reset


def _objects_fn(site: str):
    def objects(sim, data, task):
        return sim.site_xpos(data, site), jnp.zeros(4)

    return objects


def evaluate_press(sim, data, obs, action, task):
    del action
    obj = obs[4:7]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    handle_init = task["handle_init_pos"]
    init_tcp = task["init_tcp"]
    target_to_obj = jnp.abs(obj[2] - target[2])
    target_to_obj_init = jnp.abs(handle_init[2] - target[2])
    tol = reward_utils.tolerance
    in_place = tol(
        target_to_obj,
        bounds=(0.0, PRESS_RADIUS),
        margin=jnp.abs(target_to_obj_init - PRESS_RADIUS),
        sigmoid="long_tail",
    )
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    tcp_to_obj_init = jnp.linalg.norm(handle_init - init_tcp)
    reach = tol(
        tcp_to_obj, bounds=(0.0, PRESS_RADIUS), margin=jnp.abs(tcp_to_obj_init - PRESS_RADIUS), sigmoid="long_tail"
    )
    success = target_to_obj <= PRESS_RADIUS
    reward = 10.0 * jnp.where(success, 1.0, reward_utils.hamacher_product(reach, in_place))
    info = skill_info(
        success=success.astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.05).astype(jnp.float32),
        grasp_success=jnp.ones(()),
        grasp_reward=reach,
        in_place_reward=in_place,
        obj_to_target=target_to_obj,
        unscaled_reward=reward,
    )
    return reward, info


def _evaluate_pull_fn(side: bool):
    """handle-pull (side=False: z distance, caging radius 2.2 cm, success 5 cm) and handle-pull-side
    (3-d distance, caging radius 3.2 cm / pad threshold 6 cm, success 8 cm)."""

    def evaluate(sim, data, obs, action, task):
        obj = obs[4:7]
        target = task["target_pos"]
        obj_init = task["obj_init_pos"]
        if side:
            target_to_obj = jnp.linalg.norm(obj - target)
            target_to_obj_init = jnp.linalg.norm(obj_init - target)
        else:
            target_to_obj = jnp.abs(target[2] - obj[2])
            target_to_obj_init = jnp.abs(target[2] - obj_init[2])
        in_place = reward_utils.tolerance(
            target_to_obj, bounds=(0.0, PULL_RADIUS), margin=target_to_obj_init, sigmoid="long_tail"
        )
        grasped = gripper_caging_reward(
            sim,
            data,
            task,
            action,
            obj,
            pad_success_thresh=0.06 if side else 0.05,
            obj_radius=0.032 if side else 0.022,
            object_reach_radius=0.01,
            xz_thresh=0.01,
            high_density=True,
        )
        reward = reward_utils.hamacher_product(grasped, in_place)
        tcp_opened = obs[3]
        tcp_to_obj = jnp.linalg.norm(obj - sim.tcp_center(data))
        # metaworld compares obj y (pull) / obj z (pull-side) with obj_init_pos z here.
        lifted = (obj[2] if side else obj[1]) - 0.01 > obj_init[2]
        reward = jnp.where((tcp_to_obj < 0.035) & (tcp_opened > 0) & lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(target_to_obj < PULL_RADIUS, 10.0, reward)
        info = skill_info(
            success=(target_to_obj <= (0.08 if side else PULL_RADIUS)).astype(jnp.float32),
            near_object=(tcp_to_obj <= 0.05).astype(jnp.float32),
            grasp_success=((tcp_opened > 0) & (obj[2] - 0.03 > obj_init[2])).astype(jnp.float32),
            grasp_reward=grasped,
            in_place_reward=in_place,
            obj_to_target=target_to_obj,
            unscaled_reward=reward,
        )
        return reward, info

    return evaluate


def handle_skill(name: str, scene: SceneConfig, kind: str, goal_low, goal_high) -> Skill:
    """kind: "press" | "pull" | "pull-side" ("press" also serves handle-press-side: same reset and reward)."""
    if kind == "press":
        reset, site, evaluate = _reset_fn(-0.001, "goalPress", "handleStart", "box"), "handleStart", evaluate_press
    elif kind == "pull":
        reset, site, evaluate = (
            _reset_fn(-0.1, "goalPull", "handleRight", "box"),
            "handleRight",
            _evaluate_pull_fn(False),
        )
    elif kind == "pull-side":
        reset, site = _reset_fn(-0.1, "goalPull", "handleCenter", "handle"), "handleCenter"
        evaluate = _evaluate_pull_fn(True)
    else:
        raise ValueError(f"unknown handle skill kind {kind!r}")
    return Skill(
        name=name,
        scene=scene,
        goal_low=goal_low,
        goal_high=goal_high,
        reset=reset,
        objects=_objects_fn(site),
        evaluate=evaluate,
        needs_contacts=False,
        settle_body="box",
    )


SKILL = handle_skill("handle-press-v3", SCENE, "press", (-0.1, 0.55, 0.04), (0.1, 0.70, 0.08))
