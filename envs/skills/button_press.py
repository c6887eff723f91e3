"""button-press-v3: push a button in horizontally (metaworld SawyerButtonPressEnvV3, reward v2).

Also the module-level builders shared with button-press-wall-v3 (`button_functions`, `SCENE`).

button-press-topdown's proxies on the upright button box: the cap as a box pushed by the left pad and claw
(frictionless), a stop sphere against a copy of the box's top block; the right claw's drag on the table is left out.
Default (pyramidal) cone.
Fidelity figures: docs/fidelity.md.
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
    goal_low=HAND_LOW,
    goal_high=HAND_HIGH,
    reset=reset,
    objects=objects,
    evaluate=button_evaluate(1, 0.02, 0.05, press_reward),
)
