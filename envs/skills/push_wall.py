"""push-wall-v3: push the puck around a wall to a goal on the table (metaworld SawyerPushWallEnvV3, reward v2).

Scene `envs.skills.wall.PUCK_WALL_SCENE`, shared exactly with pick-place-wall-v3: push-v3's puck scene plus the wall
box against the puck proxy and the hand's capsule proxy. Elliptic cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs.sawyer import Skill
from envs.skills import push
from envs.skills.wall import PUCK_WALL_SCENE, obj_geom_objects, puck_wall_evaluate


def evaluate(sim, data, obs, action, task):
    return puck_wall_evaluate(
        sim,
        data,
        obs,
        action,
        task,
        midpoint_fn=lambda obj, target: jnp.stack([jnp.float32(-0.05), jnp.float32(0.77), obj[2]]),
        in_place_scaling=(3.0, 1.0, 1.0),
        high_density=True,
        lift=None,
        base_fn=lambda grasped, part1: 2.0 * grasped,
    )


SKILL = Skill(
    name="push-wall-v3",
    scene=PUCK_WALL_SCENE,
    goal_low=(-0.05, 0.85, 0.01),
    goal_high=(0.05, 0.9, 0.02),
    reset=push.reset,
    objects=obj_geom_objects,
    evaluate=evaluate,
    needs_contacts=True,
)
