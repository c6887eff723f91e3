"""pick-place-wall-v3: pick the puck and carry it over a wall to a goal in the air (metaworld
SawyerPickPlaceWallEnvV3, reward v2).

Scene `envs.skills.wall.PUCK_WALL_SCENE`, built from sawyer_push_wall_v3.xml and shared exactly with push-wall-v3
(the XMLs differ only in the goal site's default position, which metaworld overwrites at every reset).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.skills import pick_place
from envs.skills.wall import PUCK_WALL_SCENE, obj_geom_objects, puck_wall_evaluate


def evaluate(sim, data, obs, action, task):
    return puck_wall_evaluate(
        sim,
        data,
        obs,
        action,
        task,
        midpoint_fn=lambda obj, target: jnp.stack([target[0], jnp.float32(0.77), jnp.float32(0.25)]),
        in_place_scaling=(1.0, 1.0, 3.0),
        high_density=False,
        lift=0.015,
        base_fn=reward_utils.hamacher_product,
    )


SKILL = Skill(
    name="pick-place-wall-v3",
    scene=PUCK_WALL_SCENE,
    goal_low=(-0.05, 0.85, 0.05),
    goal_high=(0.05, 0.9, 0.3),
    reset=pick_place.reset,
    objects=obj_geom_objects,
    evaluate=evaluate,
    needs_contacts=True,
)
