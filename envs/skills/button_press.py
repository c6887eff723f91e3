"""button-press-v3: push a button in horizontally (metaworld SawyerButtonPressEnvV3, reward v2).

Also the module-level builders shared with button-press-wall-v3 (`button_functions`, `SCENE`).

Metaworld semantics kept here:
* reset moves the whole button box (`model.body("box").pos = rand_vec`, a per-instance model override), sets the
  button's slide joint to 0 (qpos and qvel, through `set_state`, which runs mj_forward), then reads the goal from
  the box's "hole" site and the press depth from its "buttonStart" site (both along y).
* the observed object is the button body's COM + (0, -0.193, 0) (the front of its cap), quat the body's MuJoCo
  (w, x, y, z) xquat.
* success needs the button pressed ~13.5 mm *past* its slide-joint range (obj y within 0.02 of the hole site):
  the soft joint limit gives way under the gripper's push until the cap (stock cylinder r = 0.043) lands on
  the box front at ~22 mm past the range (the middle disc's 2 mm overlap with the box's hole edge does not stop
  it, see button_press_topdown).

Scene: the button box is the one of button-press-topdown turned upright (same buttonbox.xml body, box frame =
world frame here), so its proxies are reused as they are (in the button / buttonbox frames): the cap as a box
the finger pads push, the stop as a sphere at the cap's inner face against a duplicate of the box's top block.
In metaworld the finger that pushes is the left one (its pad and claw), while the right claw drags on the table
(the expert holds the hand at the mocap's lowest z, 0.05). Pairs: the left pad and claw on the cap and the stop;
the right claw's drag on the table is left out (it costs the hand <= 9 mm of drift over 50 expert steps and no
expert success, measured: 20/20 tasks as metaworld, see the port report).
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.scene import SceneConfig
from envs.skills import button_press_topdown as topdown
from envs.skills.button_press_topdown import button_evaluate  # noqa: F401  (re-exported for the button skills)
from envs.skills.common import CLAW_CONTACT, OBJ_COL_CONTACT, PAD_CONTACT, combined_pair, full_solimp

HAND_INIT_POS = (0.0, 0.4, 0.2)
HAND_LOW = (-0.5, 0.40, 0.05)
HAND_HIGH = (0.5, 1.0, 0.5)

_OBJ = full_solimp(OBJ_COL_CONTACT)
_CLAW = full_solimp(CLAW_CONTACT)


def button_pairs():
    """The pairs of the horizontal button box: left pad and claw on the cap (frictionless, as in
    button_press_topdown) and the cap stop."""
    stop = next(p for p in topdown.SCENE.pairs if p.geom1 == topdown.STOP.name)
    return (
        dataclasses.replace(combined_pair("leftpad_geom", full_solimp(PAD_CONTACT), topdown.CAP.name, _OBJ), condim=1),
        dataclasses.replace(combined_pair("leftclaw_it", _CLAW, topdown.CAP.name, _OBJ), condim=1),
        stop,
    )


def button_scene(xml: str) -> SceneConfig:
    return SceneConfig(xml=xml, proxies=(topdown.CAP, topdown.STOP, topdown.BOX_TOP), pairs=button_pairs())


SCENE = button_scene("sawyer_xyz/sawyer_button_press.xml")


reset = topdown.button_box_reset(axis=1, zero_button_joint=True)


def objects(sim, data, task):
    return sim.body_com(data, "button") + jnp.array([0.0, -0.193, 0.0]), sim.body_xquat(data, "button")


def press_reward(obs, tcp_to_obj, near_button, button_pressed):
    tcp_closed = jnp.maximum(obs[3], 0.0)
    reward = 2.0 * reward_utils.hamacher_product(tcp_closed, near_button)
    return reward + jnp.where(tcp_to_obj <= 0.05, 8.0 * button_pressed, 0.0)


SKILL = Skill(
    name="button-press-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    hand_low=HAND_LOW,
    hand_high=HAND_HIGH,
    goal_low=HAND_LOW,
    goal_high=HAND_HIGH,
    reset=reset,
    objects=objects,
    evaluate=button_evaluate(1, 0.02, 0.05, press_reward),
)
