"""Pieces shared by several skills: standard collision proxies and the gripper caging reward."""
from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.scene import Pair, Proxy

#: Table top as a plane at z = 0 (stock: a 0.7 x 0.4 x 0.46 box whose top is at z = 0).
TABLE = Proxy("table_proxy", "world", "plane", (0.0, 0.0, 0.01), pos=(0.0, 0.6, 0.0))
#: Finger pads and claws are stock boxes; the hand's collision mesh becomes a capsule.
HAND = Proxy("hand_proxy", "right_hand", "capsule", (0.035, 0.014), pos=(0.0, 0.0, 0.015), like="rightpad_geom")
PADS = ("leftpad_geom", "rightpad_geom")
CLAWS = ("leftclaw_it", "rightclaw_it")


def pairs_with(geom: str, others) -> tuple[Pair, ...]:
    return tuple(Pair(geom, o) for o in others)


def gripper_caging_reward(
    sim,
    data,
    task,
    action,
    obj_pos,
    obj_radius: float,
    pad_success_thresh: float,
    object_reach_radius: float,
    xz_thresh: float,
    desired_gripper_effort: float = 1.0,
    high_density: bool = False,
    medium_density: bool = False,
):
    """`SawyerXYZEnv._gripper_caging_reward` in jnp. Needs task["obj_init_pos"] and sim.consts["init_tcp"]
    (or task["init_tcp"] when the skill recomputes it at reset)."""
    if high_density and medium_density:
        raise ValueError("Can only be either high_density or medium_density")
    obj_init = task["obj_init_pos"]
    init_tcp = task.get("init_tcp", jnp.asarray(sim.consts["init_tcp"], jnp.float32))
    left_pad = sim.body_com(data, "leftpad")
    right_pad = sim.body_com(data, "rightpad")
    pad_y_lr = jnp.stack([left_pad[1], right_pad[1]])
    pad_to_obj_lr = jnp.abs(pad_y_lr - obj_pos[1])
    pad_to_objinit_lr = jnp.abs(pad_y_lr - obj_init[1])
    caging_lr_margin = jnp.abs(pad_to_objinit_lr - pad_success_thresh)
    caging_lr = reward_utils.tolerance(
        pad_to_obj_lr, bounds=(obj_radius, pad_success_thresh), margin=caging_lr_margin, sigmoid="long_tail"
    )
    caging_y = reward_utils.hamacher_product(caging_lr[0], caging_lr[1])

    tcp = sim.tcp_center(data)
    xz = jnp.array([0, 2])
    caging_xz_margin = jnp.linalg.norm(obj_init[xz] - init_tcp[xz]) - xz_thresh
    caging_xz = reward_utils.tolerance(
        jnp.linalg.norm(tcp[xz] - obj_pos[xz]), bounds=(0.0, xz_thresh), margin=caging_xz_margin, sigmoid="long_tail"
    )
    gripper_closed = jnp.minimum(jnp.maximum(0.0, action[-1]), desired_gripper_effort) / desired_gripper_effort
    caging = reward_utils.hamacher_product(caging_y, caging_xz)
    gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
    caging_and_gripping = reward_utils.hamacher_product(caging, gripping)
    if high_density:
        caging_and_gripping = (caging_and_gripping + caging) / 2
    if medium_density:
        tcp_to_obj = jnp.linalg.norm(obj_pos - tcp)
        tcp_to_obj_init = jnp.linalg.norm(obj_init - init_tcp)
        reach_margin = jnp.abs(tcp_to_obj_init - object_reach_radius)
        reach = reward_utils.tolerance(
            tcp_to_obj, bounds=(0.0, object_reach_radius), margin=reach_margin, sigmoid="long_tail"
        )
        caging_and_gripping = (caging_and_gripping + reach) / 2
    return caging_and_gripping


def set_free_joint_pos(sim, data, joint: str, pos):
    """metaworld `_set_obj_xyz` for a free joint: qpos[adr:adr+3] = pos, its 6 qvel = 0."""
    qa, da = sim.joint_qpos(joint), sim.joint_dof(joint)
    qpos = data.qpos.at[qa : qa + 3].set(pos)
    qvel = data.qvel.at[da : da + 6].set(0.0)
    return data.replace(qpos=qpos, qvel=qvel)
