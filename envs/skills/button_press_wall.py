"""button-press-wall-v3: push a button in horizontally behind a low wall (metaworld SawyerButtonPressWallEnvV3,
reward v2).

button-press-v3's scene plus a copy of the low wall box against the finger pads and the hand mesh capsule (the
expert never touches it; the pairs keep the obstacle for other policies).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.scene import Proxy
from envs.skills import button_press
from envs.skills.common import (
    HAND_MESH,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    PAD_CONTACT,
    combined_pair,
    full_solimp,
)

#: The wall (stock: box (0.1, 0.01, 0.075) at (0, 0, 0.075) in body "wall", class wall_col).
WALL = Proxy("wall_proxy", "wall", "box", (0.1, 0.01, 0.075), pos=(0.0, 0.0, 0.075))


def wall_pairs():
    """The wall against the finger pads and the hand (stock contact parameters combined)."""
    wall = full_solimp(OBJ_COL_CONTACT)
    return (
        combined_pair(WALL.name, wall, "leftpad_geom", full_solimp(PAD_CONTACT)),
        combined_pair(WALL.name, wall, "rightpad_geom", full_solimp(PAD_CONTACT)),
        combined_pair(WALL.name, wall, HAND_MESH.name, HAND_MESH_CONTACT),
    )


def wall_scene(scene):
    return dataclasses.replace(scene, proxies=scene.proxies + (WALL, HAND_MESH), pairs=scene.pairs + wall_pairs())


SCENE = wall_scene(button_press.button_scene("sawyer_xyz/sawyer_button_press_wall.xml"))


def _combine(obs, tcp_to_obj, near_button, button_pressed):
    far = 2.0 * reward_utils.hamacher_product((1.0 - obs[3]) / 2.0, near_button)
    near = 2.0 + 2.0 * (1.0 + obs[3]) + 4.0 * button_pressed**2
    return jnp.where(tcp_to_obj > 0.07, far, near)


SKILL = Skill(
    name="button-press-wall-v3",
    scene=SCENE,
    hand_init_pos=button_press.HAND_INIT_POS,
    goal_low=button_press.HAND_LOW,
    goal_high=button_press.HAND_HIGH,
    reset=button_press.reset,
    objects=button_press.objects,
    evaluate=button_press.button_evaluate(1, 0.03, 0.01, _combine),
)
