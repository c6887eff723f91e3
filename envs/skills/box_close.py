"""box-close-v3: pick the lid up by its handle and put it on the box (metaworld SawyerBoxCloseEnvV3 in
sawyer_box_close_v3.py, reward v2).

The lid is one box (`LID`) on a table plane and against box proxies of the 4 box walls; the handle is a grip capsule
(`GRIP`) plus a slab box (`HANDLE`) whose pairs carry 4x the regularization, so MJX's four box-box contacts are as
stiff as MuJoCo's single one. The task-dependent hand settle comes from envs.skills.task_settle. Elliptic cone, 4/8
iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import HAND_INIT_POS, Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.settle import TASK_PLACED_FIELDS
from envs.skills import task_settle
from envs.skills.common import (
    BOX_FACE_CONTACTS,
    CLAWS,
    FINGER_MARGIN,
    MUJOCO_DEFAULT_CONTACT,
    OBJ_COL_CONTACT,
    PADS,
    TABLE,
    combined_pair,
    euler_quat,
    gripper_pairs,
    single_contact_pairs,
)

#: metaworld's obj_init_pos z: the lid's free joint (boxbodytop) height at reset.
LID_Z = 0.02
#: reset_model's raw mj_steps after the hand settle.
RESET_STEPS = 5

#: Class top_col of the lid's rims and grip (condim 4, else as OBJ_COL_CONTACT).
TOP_COL_CONTACT = dict(OBJ_COL_CONTACT, condim=4)
#: The lid (top_link frame): the convex hull of its mesh spans +-0.1148 x +-0.1148, z -0.0157..0.0058; the
#: rims' bottom is at z = -0.016.
LID = Proxy("lid_proxy", "top_link", "box", (0.115, 0.115, 0.0109), pos=(0.0, 0.0, -0.0051))
#: The grip bar (stock capsule r 0.008, half-length 0.05 along top_link's y, at z 0.082), 1 mm thicker.
GRIP = Proxy(
    "grip_proxy",
    "top_link",
    "capsule",
    (0.008 + FINGER_MARGIN, 0.05),
    pos=(0.0, 0.0, 0.082),
    quat=euler_quat(1.57, 0.0, 0.0),
)
#: The handle's mesh below the grip bar: its convex hull is the bar (a 16-gon of radius 8 mm about z 0.081) on
#: a slab x -0.008..0.008, y -0.058..0.058, z 0.004..0.081 (flat sides from y -0.05 to 0.05) that the pads clamp
#: once they are below the bar. As a box, the 1 mm pad margin folded into its thickness (MJX's box-box collider
#: reports penetrating contacts only).
HANDLE = Proxy("handle_proxy", "top_link", "box", (0.008 + FINGER_MARGIN, 0.05, 0.0384), pos=(0.0, 0.0, 0.0426))
#: The box's 4 walls (unnamed box_col boxes of box.xml).
WALLS = tuple(
    Proxy(f"box_wall_{i}", "box", "box", size, pos=pos)
    for i, (size, pos) in enumerate(
        (
            ((0.1, 0.005, 0.03), (0.0, -0.095, 0.03)),
            ((0.1, 0.005, 0.03), (0.0, 0.095, 0.03)),
            ((0.005, 0.09, 0.03), (0.095, 0.0, 0.03)),
            ((0.005, 0.09, 0.03), (-0.095, 0.0, 0.03)),
        )
    )
)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_box.xml",
    proxies=(TABLE, LID, GRIP, HANDLE) + WALLS,
    pairs=(combined_pair(LID.name, TOP_COL_CONTACT, TABLE.name, MUJOCO_DEFAULT_CONTACT),)
    + tuple(combined_pair(LID.name, TOP_COL_CONTACT, w.name, OBJ_COL_CONTACT) for w in WALLS)
    + gripper_pairs(GRIP.name, TOP_COL_CONTACT, PADS + CLAWS, fold_margin=True)
    # metaworld's pads touch the handle's mesh at one point each (MuJoCo's box-mesh collider), MJX's box-box
    # collider at four: each of those given 4x the regularization, so the four together are as stiff as one
    + single_contact_pairs(
        gripper_pairs(HANDLE.name, MUJOCO_DEFAULT_CONTACT, PADS, fold_margin=True), BOX_FACE_CONTACTS
    ),
    cone="elliptic",
)


def _lid_adr(sim):
    """qpos / dof address of the lid's (unnamed) free joint: metaworld's qpos[9:16], qvel[9:15]."""
    j = int(sim.model.body_jntadr[sim.body("boxbodytop")])
    return int(sim.model.jnt_qposadr[j]), int(sim.model.jnt_dofadr[j])


def reset(sim, data, rand_vec):
    target_pos = rand_vec[3:6]
    box_pos = jnp.stack([rand_vec[3], rand_vec[4], jnp.zeros((), rand_vec.dtype)])
    model = {
        "body_pos": sim.mx.body_pos.at[sim.body("boxbody")].set(box_pos.astype(sim.mx.body_pos.dtype)),
        "site_pos": sim.mx.site_pos.at[sim.site("goal")].set(target_pos.astype(sim.mx.site_pos.dtype)),
    }
    m = sim.mx.replace(**model)
    qa, da = _lid_adr(sim)
    # The settle, with the box already under the lid (module doc): metaworld's own per task where the env
    # has its table (the lid's settled tilt included), else simulated.
    data, _, exact = task_settle.hand_settle(sim, data, m, HAND_INIT_POS, moved_body="boxbody", rand_vec=rand_vec)
    if not sim.settle_table_only:  # else the table's "placed_" rows below replace the steps' result
        data, _ = jax.lax.scan(lambda d, _: (mjx.step(m, d), None), data, None, length=RESET_STEPS)
    # Those 5 steps move the lid on the box walls (the proxies tilt it by up to 8e-4 in the quaternion where
    # metaworld's mesh / rim contacts leave it at rest): the state after them is metaworld's own where the table
    # has the task (Skill.settle_table_placed).
    table = sim.settle_table
    if table is not None:
        table = {"rand_vec": table["rand_vec"], **{k: table["placed_" + k] for k in TASK_PLACED_FIELDS}}
    fields, exact = task_settle.from_table(table, rand_vec, {k: getattr(data, k) for k in TASK_PLACED_FIELDS}, exact)
    data = data.replace(**fields)
    # `_set_obj_xyz`: the lid's position only; its (settled) orientation stays.
    obj_init_pos = jnp.stack([rand_vec[0], rand_vec[1], jnp.asarray(LID_Z, rand_vec.dtype)])
    data = data.replace(qpos=data.qpos.at[qa : qa + 3].set(obj_init_pos), qvel=data.qvel.at[da : da + 6].set(0.0))
    return data, {
        "target_pos": target_pos,
        "obj_init_pos": obj_init_pos,
        "model": model,
        "settle_exact": exact.astype(jnp.float32),
    }


def objects(sim, data, task):
    return sim.body_xpos(data, "top_link"), sim.body_xquat(data, "top_link")


def evaluate(sim, data, obs, action, task):
    tol = reward_utils.tolerance
    target = task["target_pos"]
    grab = jnp.clip((jnp.clip(action[3], -1.0, 1.0) + 1.0) / 2.0, 0.0, 1.0)
    reward_quat = jnp.maximum(1.0 - jnp.linalg.norm(obs[7:11] - jnp.asarray([0.707, 0.0, 0.0, 0.707])) / 0.2, 0.0)

    hand = obs[:3]
    lid = obs[4:7] + jnp.asarray([0.0, 0.0, 0.02])
    radius = jnp.linalg.norm(hand[:2] - lid[:2])
    floor = jnp.where(radius <= 0.02, 0.0, 0.04 * jnp.log(jnp.maximum(radius - 0.02, 1e-12)) + 0.4)
    above = hand[2] >= floor
    above_floor = jnp.where(
        above,
        1.0,
        tol(floor - hand[2], bounds=(0.0, 0.01), margin=jnp.where(above, 1.0, floor / 2.0), sigmoid="long_tail"),
    )
    in_place = tol(jnp.linalg.norm(hand - lid), bounds=(0.0, 0.02), margin=0.5, sigmoid="long_tail")
    ready = reward_utils.hamacher_product(above_floor, in_place)
    err = jnp.linalg.norm((target - lid) * jnp.asarray([1.0, 1.0, 3.0]))
    lifted = 0.2 * (lid[2] > 0.04).astype(jnp.float32) + 0.8 * tol(
        err, bounds=(0.0, 0.05), margin=0.25, sigmoid="long_tail"
    )
    reward = 2.0 * reward_utils.hamacher_product(grab, ready) + 8.0 * lifted
    success = jnp.linalg.norm(obs[4:7] - target) < 0.08
    reward = jnp.where(success, 10.0, reward) * reward_quat
    info = skill_info(
        success=success.astype(jnp.float32),
        near_object=ready,
        grasp_success=(grab >= 0.5).astype(jnp.float32),
        grasp_reward=grab,
        in_place_reward=lifted,
        obj_to_target=jnp.zeros(()),
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="box-close-v3",
    scene=SCENE,
    goal_low=(-0.1, 0.7, 0.133),
    goal_high=(0.1, 0.8, 0.133),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    needs_contacts=False,
    settle_body="boxbody",
    settle_table_placed=True,
)
