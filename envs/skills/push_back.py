"""push-back-v3: push a block back towards the robot, to a goal on the table (metaworld SawyerPushBackEnvV3,
reward v2).

Stock colliders: the block box on a table plane, the stock pads and claws on the stock block box (box-box: a capsule
proxy loses a dragged block). Pyramidal cone, 4/8 iterations: cheaper, and closer to metaworld's expert success than
elliptic; the fingers slip into their grip faster than metaworld's.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills import push
from envs.skills.common import CLAWS, PADS, TABLE, live_pad_caging_reward
from envs.skills.wall import obj_geom_objects

TARGET_RADIUS = 0.05
OBJ_RADIUS = 0.007

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_push_back_v3.xml",
    proxies=(TABLE,),
    pairs=(Pair("objGeom", TABLE.name),) + tuple(Pair(g, "objGeom") for g in PADS + CLAWS),
    cone="pyramidal",
)


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    tcp_opened = obs[3]
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    target_to_obj = jnp.linalg.norm(obj - target)
    target_to_obj_init = jnp.linalg.norm(task["obj_init_pos"] - target)
    in_place = reward_utils.tolerance(
        target_to_obj, bounds=(0.0, TARGET_RADIUS), margin=target_to_obj_init, sigmoid="long_tail"
    )
    grasped = live_pad_caging_reward(sim, data, task, obj, OBJ_RADIUS, grip_extra=0.003)
    reward = reward_utils.hamacher_product(grasped, in_place)
    bonus = (tcp_to_obj < 0.01) & (tcp_opened > 0) & (tcp_opened < 0.55) & (target_to_obj_init - target_to_obj > 0.01)
    reward = jnp.where(bonus, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(target_to_obj < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, "objGeom")
    info = skill_info(
        success=(target_to_obj <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (obj[2] - 0.02 > task["obj_init_pos"][2])).astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=target_to_obj,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="push-back-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.6, 0.0199),
    goal_high=(0.1, 0.7, 0.0201),
    reset=push.reset,
    objects=obj_geom_objects,
    evaluate=evaluate,
    needs_contacts=True,
)
