"""dial-turn-v3: turn a dial a quarter turn by pushing its knob (metaworld SawyerDialTurnEnvV3 in
sawyer_dial_turn_v3.py, reward v2).

Only the knob's head collides: a copy of its dial_col box (`HEAD`) against the stock pads and claws (box-box). Reset
keeps metaworld's stale arm kinematics. Elliptic cone (metaworld's; it lets MT50 share more physics graphs), 4/8
iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import GEOM_CONTACT, OBJ_COL_CONTACT, combined_pair

TARGET_RADIUS = 0.07
DIAL_RADIUS = 0.05
PUSH_OFFSET = (0.05, 0.02, 0.09)
FINGERS = ("leftpad_geom", "rightpad_geom", "leftclaw_it", "rightclaw_it")

#: The knob head (dial_col box in dial.xml, on the dial's hinged child body). dial_col's contact parameters
#: equal OBJ_COL_CONTACT.
HEAD = Proxy("dial_head_proxy", "joint:knob_Joint_1", "box", (0.015, 0.046, 0.015), pos=(0.0, 0.0, 0.051))

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_dial.xml",
    proxies=(HEAD,),
    pairs=tuple(combined_pair(HEAD.name, OBJ_COL_CONTACT, g, GEOM_CONTACT[g]) for g in FINGERS),
    cone="elliptic",
)


def knob_tip(sim, data):
    q = data.qpos[sim.joint_qpos("knob_Joint_1")]
    return sim.body_com(data, "dial") + DIAL_RADIUS * jnp.stack([jnp.sin(q), -jnp.cos(q), jnp.zeros_like(q)])


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = rand_vec + jnp.asarray([0.0, 0.03, 0.03])
    model = {"body_pos": sim.mx.body_pos.at[sim.body("dial")].set(obj_init_pos)}
    # dial_push_position at reset: the knob tip (dial at rand_vec, knob at its settled angle) + offset.
    q = data.qpos[sim.joint_qpos("knob_Joint_1")]
    tip = obj_init_pos + DIAL_RADIUS * jnp.stack([jnp.sin(q), -jnp.cos(q), jnp.zeros_like(q)])
    push = tip + jnp.asarray(PUSH_OFFSET)
    # Metaworld leaves qpos as the settle left it. `+ 0 * rand_vec[0]` makes the data depend on the task, i.e.
    # batched under vmap like the model override: with unbatched data and a batched model, XLA took > 20 min to
    # compile the vmapped reset on the 2-core CPU (54 s with this; measured).
    data = data.replace(qpos=data.qpos + 0.0 * rand_vec[0])
    return data, {"target_pos": target_pos, "obj_init_pos": obj_init_pos, "dial_push_position": push, "model": model}


def objects(sim, data, task):
    return knob_tip(sim, data), sim.body_xquat(data, "dial")


def evaluate(sim, data, obs, action, task):
    obj = knob_tip(sim, data)
    push = obj + jnp.asarray(PUSH_OFFSET)
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
    target_to_obj = jnp.linalg.norm(obj - target)
    target_to_obj_init = jnp.linalg.norm(task["dial_push_position"] - target)
    in_place = reward_utils.tolerance(
        target_to_obj,
        bounds=(0.0, TARGET_RADIUS),
        margin=jnp.abs(target_to_obj_init - TARGET_RADIUS),
        sigmoid="long_tail",
    )
    reach_radius = 0.005
    tcp_to_obj = jnp.linalg.norm(push - tcp)
    tcp_to_obj_init = jnp.linalg.norm(task["dial_push_position"] - init_tcp)
    reach = reward_utils.tolerance(
        tcp_to_obj, bounds=(0.0, reach_radius), margin=jnp.abs(tcp_to_obj_init - reach_radius), sigmoid="gaussian"
    )
    reach = reward_utils.hamacher_product(reach, jnp.clip(action[-1], 0.0, 1.0))
    reward = 10.0 * reward_utils.hamacher_product(reach, in_place)
    info = skill_info(
        success=(target_to_obj <= TARGET_RADIUS).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.01).astype(jnp.float32),
        grasp_success=jnp.ones(()),
        grasp_reward=reach,
        in_place_reward=in_place,
        obj_to_target=target_to_obj,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="dial-turn-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.73, 0.0299),
    goal_high=(0.1, 0.83, 0.0301),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    stale_reset_arm=True,
)
