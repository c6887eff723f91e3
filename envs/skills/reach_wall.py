"""reach-wall-v3: move the tcp to a goal behind a wall (metaworld SawyerReachWallEnvV3, reward v2).

reach-v3's scene plus the stock wall box (`envs.skills.wall.WALL`), which blocks the hand's capsule proxy; the puck
rests on a table plane. Default (pyramidal) cone.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs.sawyer import Skill
from envs.scene import Pair, SceneConfig
from envs.skills import reach
from envs.skills.common import HAND_MESH, TABLE
from envs.skills.wall import HAND_WALL_PAIR, WALL

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_reach_wall_v3.xml",
    proxies=(TABLE, WALL, HAND_MESH),
    pairs=(Pair("objGeom", TABLE.name), HAND_WALL_PAIR),
)


def evaluate(sim, data, obs, action, task):
    reward, info = reach.evaluate(sim, data, obs, action, task)
    zero = jnp.zeros(())
    return reward, dict(info, near_object=zero, grasp_success=zero, grasp_reward=zero)


SKILL = Skill(
    name="reach-wall-v3",
    scene=SCENE,
    goal_low=(-0.05, 0.85, 0.05),
    goal_high=(0.05, 0.9, 0.3),
    reset=reach.reset,
    objects=reach.objects,
    evaluate=evaluate,
)
