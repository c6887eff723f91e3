"""peg-insert-side-v3: grasp a peg and insert it sideways into a hole in a box (metaworld
SawyerPegInsertionSideEnvV3, reward v2).

Only the peg collides: the stock peg geom on a table plane and against the two finger pads; the box with the hole is
not collided. Elliptic cone.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations


import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import Skill, skill_info
from envs.scene import Pair, SceneConfig
from envs.skills.common import TABLE, gripper_caging_reward

TARGET_RADIUS = 0.07
GOAL_OFFSET = (0.03, 0.0, 0.13)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_peg_insertion_side.xml",
    proxies=(TABLE,),
    pairs=(
        Pair("peg", TABLE.name),
        Pair("leftpad_geom", "peg"),
        Pair("rightpad_geom", "peg"),
    ),
    cone="elliptic",
)


def _peg_adr(sim):
    """qpos / dof address of the peg's (unnamed) free joint: metaworld's qpos[9:16], qvel[9:15]."""
    j = int(sim.model.body_jntadr[sim.body("peg")])
    return int(sim.model.jnt_qposadr[j]), int(sim.model.jnt_dofadr[j])


def rect_prism_tolerance(curr, zero, one):
    """metaworld `reward_utils.rect_prism_tolerance`: product of the per-axis position of `curr` from the
    `zero` corner to the `one` corner when inside the prism they span, else 1."""
    lo, hi = jnp.minimum(zero, one), jnp.maximum(zero, one)
    inside = jnp.all((lo <= curr) & (curr <= hi))
    diff = one - zero
    return jnp.where(inside, jnp.prod((curr - zero) / diff), 1.0)


def reset(sim, data, rand_vec):
    pos_peg, pos_box = rand_vec[:3], rand_vec[3:]
    # Read before the peg is placed: the peg where the settle left it.
    peg_head_pos_init = mjx.kinematics(sim.mx, data).site_xpos[sim.site("pegHead")]
    qa, da = _peg_adr(sim)
    data = data.replace(qpos=data.qpos.at[qa : qa + 3].set(pos_peg), qvel=data.qvel.at[da : da + 6].set(0.0))
    body_pos = sim.mx.body_pos.at[sim.body("box")].set(pos_box.astype(sim.mx.body_pos.dtype))
    task = {
        "target_pos": pos_box + jnp.asarray(GOAL_OFFSET),
        "obj_init_pos": pos_peg,
        "peg_head_pos_init": peg_head_pos_init,
        "model": {"body_pos": body_pos},
    }
    return data, task


def objects(sim, data, task):
    s = sim.site("pegGrasp")
    return data.site_xpos[s], mat_to_quat_xyzw(data.site_xmat[s].reshape(3, 3))


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    obj_head = sim.site_xpos(data, "pegHead")
    tcp_opened = obs[3]
    target = task["target_pos"]
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    scale = jnp.array([1.0, 2.0, 2.0])
    obj_to_target = jnp.linalg.norm((obj_head - target) * scale)
    in_place_margin = jnp.linalg.norm((task["peg_head_pos_init"] - target) * scale)
    in_place = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=in_place_margin, sigmoid="long_tail"
    )
    box_1 = rect_prism_tolerance(
        obj_head,
        one=sim.site_xpos(data, "top_left_corner_collision_box_1"),
        zero=sim.site_xpos(data, "bottom_right_corner_collision_box_1"),
    )
    box_2 = rect_prism_tolerance(
        obj_head,
        one=sim.site_xpos(data, "top_left_corner_collision_box_2"),
        zero=sim.site_xpos(data, "bottom_right_corner_collision_box_2"),
    )
    in_place = reward_utils.hamacher_product(in_place, reward_utils.hamacher_product(box_2, box_1))
    object_grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.0075,
        pad_success_thresh=0.03,
        object_reach_radius=0.01,
        xz_thresh=0.005,
        high_density=True,
    )
    lifted = obj[2] - 0.01 > task["obj_init_pos"][2]
    grasped_and_lifted = (tcp_to_obj < 0.08) & (tcp_opened > 0) & lifted
    object_grasped = jnp.where(grasped_and_lifted, 1.0, object_grasped)
    reward = reward_utils.hamacher_product(object_grasped, in_place)
    reward = jnp.where(grasped_and_lifted, reward + 1.0 + 5.0 * in_place, reward)
    reward = jnp.where(obj_to_target <= TARGET_RADIUS, 10.0, reward)
    info = skill_info(
        success=(obj_to_target <= TARGET_RADIUS).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=((tcp_to_obj < 0.02) & (tcp_opened > 0) & lifted).astype(jnp.float32),
        grasp_reward=object_grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="peg-insert-side-v3",
    scene=SCENE,
    goal_low=(-0.35 + 0.03, 0.4, -0.001 + 0.13),
    goal_high=(-0.25 + 0.03, 0.7, 0.001 + 0.13),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
