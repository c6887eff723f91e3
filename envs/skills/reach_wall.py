"""reach-wall-v3: move the tcp to a goal behind a wall (metaworld SawyerReachWallEnvV3, reward v2).

Metaworld semantics kept: reset, objects and reward are reach-v3's (puck at rand_vec[:3], goal
rand_vec[3:], reward 10 * tolerance(tcp-goal, 5 cm, margin |hand_init - goal|), success within 5 cm);
only the info dict differs (near_object / grasp_success / grasp_reward are 0). Metaworld resamples while
puck and goal are < 15 cm apart in xy: never the case for benchmark tasks (frozen task vectors).

Scene (stock sawyer_reach_wall_v3.xml: a wider, flatter puck, r 3 cm x 1.5 cm, and the wall): the puck
(stock cylinder) rests on the table plane, as in reach-v3; the wall box (`envs.skills.wall.WALL`) collides
with the hand's capsule proxy, so the wall blocks the arm as in metaworld. The expert climbs over the wall
and never touches it (measured over the 20 MT1 tasks: the only contact is puck-table).
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
    hand_init_pos=reach.HAND_INIT_POS,
    hand_low=(-0.5, 0.40, 0.05),
    hand_high=(0.5, 1.0, 0.5),
    goal_low=(-0.05, 0.85, 0.05),
    goal_high=(0.05, 0.9, 0.3),
    reset=reach.reset,
    objects=reach.objects,
    evaluate=evaluate,
)
