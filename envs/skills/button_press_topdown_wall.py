"""button-press-topdown-wall-v3: press a button down from above, behind a low wall (metaworld
SawyerButtonPressTopdownWallEnvV3, reward v2).

button-press-topdown's scene plus a copy of the low wall box against the finger pads and the hand mesh capsule, as
in button-press-wall-v3.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.skills import button_press_topdown as topdown
from envs.skills.button_press import button_evaluate
from envs.skills.button_press_wall import wall_scene

SCENE = wall_scene(dataclasses.replace(topdown.SCENE, xml="sawyer_xyz/sawyer_button_press_topdown_wall.xml"))


def _combine(obs, tcp_to_obj, near_button, button_pressed):
    reward = 5.0 * reward_utils.hamacher_product(jnp.maximum(obs[3], 0.0), near_button)
    return reward + jnp.where(tcp_to_obj <= 0.03, 5.0 * button_pressed, 0.0)


SKILL = Skill(
    name="button-press-topdown-wall-v3",
    scene=SCENE,
    hand_init_pos=topdown.HAND_INIT_POS,
    goal_low=topdown.SKILL.goal_low,
    goal_high=topdown.SKILL.goal_high,
    reset=topdown.reset,
    objects=topdown.objects,
    evaluate=button_evaluate(2, 0.024, 0.01, _combine),
)
