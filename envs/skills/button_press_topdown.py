"""button-press-topdown-v3: press a button down from above (metaworld SawyerButtonPressTopdownEnvV3, reward v2).

The cap cylinder becomes a box that the pads press through frictionless pairs; a sphere proxy under the cap against
a copy of the box's top block is the stop, one contact stiffer than stock so the button lands where metaworld's
does, past its slide-joint range. Default (pyramidal) cone.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import CLAW_CONTACT, OBJ_COL_CONTACT, PAD_CONTACT, combined_pair, full_solimp

HAND_INIT_POS = (0.0, 0.4, 0.2)

_OBJ = full_solimp(OBJ_COL_CONTACT)
_PAD = full_solimp(PAD_CONTACT)
_CLAW = full_solimp(CLAW_CONTACT)

#: The button's cap (stock cylinder r=0.043, half-height 0.011 along the button body's y, which is world -z).
CAP = Proxy("btn_cap_proxy", "button", "box", (0.043, 0.011, 0.043), pos=(0.0, -0.183, 0.0))
#: Lowest point = the cap's lower face (y = -0.172), over the box's far top block (which starts at z = 0.024;
#: 10 mm inside it, so a deep press still resolves to its top face).
STOP = Proxy("btn_stop_proxy", "button", "sphere", (0.01,), pos=(0.0, -0.182, 0.034))
#: The far top block of the button box (stock, unnamed): box (0.12, 0.102, 0.048) at (0, 0.012, 0.072).
BOX_TOP = Proxy("btnbox_top_proxy", "buttonbox", "box", (0.12, 0.102, 0.048), pos=(0.0, 0.012, 0.072))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_button_press_topdown.xml",
    proxies=(CAP, STOP, BOX_TOP),
    pairs=(
        # Frictionless (condim 1): with a pyramidal cone the pads' friction-2 rows soften the contact
        # ~(1 + mu^2)-fold and the gripper sinks through the cap under the weld's push (an elliptic cone
        # holds it too, at 2x the step time). Pressing straight down needs no friction.
        dataclasses.replace(combined_pair("leftpad_geom", _PAD, CAP.name, _OBJ), condim=1),
        dataclasses.replace(combined_pair("rightpad_geom", _PAD, CAP.name, _OBJ), condim=1),
        # The stock stop is ~8 contacts (disc + cap against 3 box blocks) on a 11 g button; one contact with
        # the stock impedance (solimp 0.99) lets the gripper's push drive the button through the box. A 10x
        # stiffer impedance holds it where metaworld does (~3 mm past first touch). Frictionless: the button
        # only slides along its axis.
        dataclasses.replace(
            combined_pair(STOP.name, _OBJ, BOX_TOP.name, _OBJ), condim=1, solimp=(0.999, 0.999, 0.01, 0.5, 2.0)
        ),
    ),
)


def button_box_reset(axis: int, zero_button_joint: bool):
    """reset() of a button skill: move the button box to rand_vec (a per-instance model override), optionally
    set the button's slide joint to 0 (metaworld's set_state), then read the goal from the box's "hole" site
    and the press depth along world `axis` (1: horizontal box, 2: top-down box) from its "buttonStart" site."""

    def reset(sim, data, rand_vec):
        obj_init_pos = rand_vec
        body_pos = sim.mx.body_pos.at[sim.body("box")].set(obj_init_pos.astype(sim.mx.body_pos.dtype))
        if zero_button_joint:
            qa, da = sim.joint_qpos("btnbox_joint"), sim.joint_dof("btnbox_joint")
            data = data.replace(qpos=data.qpos.at[qa].set(0.0), qvel=data.qvel.at[da].set(0.0))
        kin = mjx.kinematics(sim.mx.replace(body_pos=body_pos), data)
        target_pos = kin.site_xpos[sim.site("hole")]
        obj_to_target_init = jnp.abs(target_pos[axis] - kin.site_xpos[sim.site("buttonStart")][axis])
        task = {
            "target_pos": target_pos,
            "obj_init_pos": obj_init_pos,
            "obj_to_target_init": obj_to_target_init,
            "model": {"body_pos": body_pos},
        }
        return data, task

    return reset


reset = button_box_reset(axis=2, zero_button_joint=False)


def objects(sim, data, task):
    return sim.body_com(data, "button") + jnp.array([0.0, 0.0, 0.193]), sim.body_xquat(data, "button")


def button_evaluate(axis: int, success_dist: float, near_bound: float, combine):
    """evaluate() of a button skill pressed along world `axis` (1: horizontal box, 2: top-down box), the reward v2
    terms every button-press variant shares. combine(obs, tcp_to_obj, near_button, button_pressed) -> reward."""

    def evaluate(sim, data, obs, action, task):
        del action
        obj = obs[4:7]
        tcp = sim.tcp_center(data)
        init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
        tcp_to_obj = jnp.linalg.norm(obj - tcp)
        tcp_to_obj_init = jnp.linalg.norm(obj - init_tcp)
        obj_to_target = jnp.abs(task["target_pos"][axis] - obj[axis])
        near_button = reward_utils.tolerance(
            tcp_to_obj, bounds=(0.0, near_bound), margin=tcp_to_obj_init, sigmoid="long_tail"
        )
        button_pressed = reward_utils.tolerance(
            obj_to_target, bounds=(0.0, 0.005), margin=task["obj_to_target_init"], sigmoid="long_tail"
        )
        reward = combine(obs, tcp_to_obj, near_button, button_pressed)
        info = skill_info(
            success=(obj_to_target <= success_dist).astype(jnp.float32),
            near_object=(tcp_to_obj <= 0.05).astype(jnp.float32),
            grasp_success=(obs[3] > 0).astype(jnp.float32),
            grasp_reward=near_button,
            in_place_reward=button_pressed,
            obj_to_target=obj_to_target,
            unscaled_reward=reward,
        )
        return reward, info

    return evaluate


def _combine(obs, tcp_to_obj, near_button, button_pressed):
    reward = 5.0 * reward_utils.hamacher_product(1.0 - obs[3], near_button)
    return reward + jnp.where(tcp_to_obj <= 0.03, 5.0 * button_pressed, 0.0)


evaluate = button_evaluate(2, 0.024, 0.01, _combine)


SKILL = Skill(
    name="button-press-topdown-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    goal_low=(-0.5, 0.40, 0.05),
    goal_high=(0.5, 1.0, 0.5),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
