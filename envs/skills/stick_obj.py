"""Pieces shared by stick-push-v3 and stick-pull-v3, both built on metaworld's sawyer_stick_obj.xml: a stick
(free body "stick", collision box objGeom 0.1 x 0.04 x 0.04, long along x) that the gripper holds, and a
thermos (body "object" with an unnamed child body on two slide joints obj_slidex / obj_slidey, range
+-0.2 m, damping 1) with a handle loop on its -y side: a vertical bar at y = -0.135 and two horizontal bars
at z = 0.069 / 0.195 joining it to the thermos body cylinder (r = 0.06).

Metaworld semantics common to both skills:
* The thermos does not start at rest. During metaworld's 50-step hand settle the arm swings through the
  thermos and leaves it sliding (qvel of obj_slidex 0.525 m/s, part of the settled state). The skills'
  `_set_obj_xyz` then zeroes `qvel[16:18]` -- qpos indices: the thermos' x velocity is qvel[15], so only
  its y velocity is cleared, and the thermos keeps sliding in +x until obj_slidex's limit (+0.2 m), ~30
  env steps later. Reproduced here: the reset keeps the settled qvel[15].
* `obj_init_pos` is `get_body_com("object")`: the fixed parent body's frame, (0.2, 0.6, 0) in every task.
* The observed stick quaternion is scipy's (x, y, z, w) of the stick body's rotation; the second object's
  quaternion is zeros.

Scene (one SceneConfig for both skills: they share the compiled physics in the multi-task env). Contact
survey of stock metaworld (scripted expert, 4 tasks each): the stick lies on the table (box-plane); the pads
and claws grip it (stock box-box pairs, elliptic cone as the other box-grasping skills, e.g. shelf-place);
stick-pull then slides the held stick through the handle loop: the stick touches the handle's bottom and
outer bars and pulls the thermos by the outer bar (box-box with box proxies of the unnamed stock bars); the
right finger and the hand's collision mesh brush the outer and top bars and the thermos body (the claws
against capsule proxies of the two bars, the hand's bounding box common.HAND_BOX against those and a capsule
proxy of the body cylinder). stick-push carries the stick against the thermos body only after success (the
thermos reaches the goal by itself, see above): stick vs the body capsule (MJX has no box-cylinder).
Not collided: the thermos' cap / trim meshes and base (touched late in a few episodes, long after success),
the stick vs the top bar. 44 contacts. Measurements of this scene against stock: docs/skill_notes.md
(stick-push-v3).
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.scene import Pair, Proxy, SceneConfig
from envs.skills.common import (
    CLAWS,
    FINGER_MARGIN,
    HAND_BOX,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    PADS,
    TABLE,
    combined_pair,
    euler_quat,
    full_solimp,
    gripper_pairs,
)

XML = "sawyer_xyz/sawyer_stick_obj.xml"
#: The insertion site's height (thermos frame z = 0, fixed: the thermos only slides in x and y).
INSERTION_Z = 0.132
#: `get_body_com("object")`: the fixed parent frame of the thermos.
OBJ_INIT_POS = (0.2, 0.6, 0.0)
#: The stick's collision box objGeom (class stick_col).
STICK_CONTACT = full_solimp(
    dict(condim=4, friction=(1.0, 0.005, 0.0001), solref=(0.02, 1.0), solimp=(0.998, 0.998, 0.001), margin=0.0)
)
#: The thermos' unnamed child body (carries the slide joints and the therm_col geoms).
THERMOS = "joint:obj_slidex"
#: Box proxies of the handle's stock collision boxes (class therm_col = common.OBJ_COL_CONTACT) that the stick
#: hooks: the outer vertical bar and the bottom bar.
HANDLE_OUTER = Proxy("handle_outer_proxy", THERMOS, "box", (0.01, 0.005, 0.068), pos=(0.0, -0.135, 0.132))
HANDLE_BOTTOM = Proxy("handle_bottom_proxy", THERMOS, "box", (0.01, 0.04, 0.005), pos=(0.0, -0.09, 0.069))
#: The outer and top bars as the claws and the hand see them: capsules through the bars' long axes, radius
#: between the bars' half-thicknesses (0.01 / 0.005) + the claws' folded 1 mm margin (common.FINGER_MARGIN;
#: box-capsule is 2 contacts, box-box 4).
OUTER_CAP = Proxy("handle_outer_cap", THERMOS, "capsule", (0.0075 + FINGER_MARGIN, 0.068), pos=(0.0, -0.135, 0.132))
TOP_CAP = Proxy(
    "handle_top_cap",
    THERMOS,
    "capsule",
    (0.0075 + FINGER_MARGIN, 0.04),
    pos=(0.0, -0.09, 0.195),
    quat=euler_quat(math.pi / 2, 0.0, 0.0),
)
#: The thermos body (stock cylinder r = 0.06, half-height 0.1 at z = 0.14) as a vertical capsule: same side
#: between z = 0.08 and 0.2 (where the held stick and the hand meet it), rounded ends.
BODY = Proxy("thermos_body_proxy", THERMOS, "capsule", (0.06, 0.04), pos=(0.0, 0.0, 0.14))


def _stick_pair(proxy: Proxy) -> Pair:
    return combined_pair("objGeom", STICK_CONTACT, proxy.name, OBJ_COL_CONTACT)


def _hand_pair(proxy: Proxy) -> Pair:
    return combined_pair(HAND_BOX.name, HAND_MESH_CONTACT, proxy.name, OBJ_COL_CONTACT)


SCENE = SceneConfig(
    xml=XML,
    proxies=(TABLE, HAND_BOX, HANDLE_OUTER, HANDLE_BOTTOM, OUTER_CAP, TOP_CAP, BODY),
    pairs=(Pair("objGeom", TABLE.name),)
    + tuple(Pair(g, "objGeom") for g in PADS + CLAWS)
    + tuple(_stick_pair(p) for p in (HANDLE_OUTER, HANDLE_BOTTOM, BODY))
    + gripper_pairs(OUTER_CAP.name, OBJ_COL_CONTACT, CLAWS, fold_margin=True)
    + gripper_pairs(TOP_CAP.name, OBJ_COL_CONTACT, CLAWS, fold_margin=True)
    + tuple(_hand_pair(p) for p in (OUTER_CAP, TOP_CAP, BODY)),
    cone="elliptic",
)


def place(sim, data, rand_vec, thermos_qpos):
    """The common part of both reset_models: `_set_stick_xyz((rand_vec[:2], 0.02))` (qpos[9:12], qvel[9:15]
    = 0) and `_set_obj_xyz(thermos_qpos)` (qpos[16:18]; qvel[16:18] = 0, i.e. only the thermos' y velocity
    qvel[16]: see the module doc). Returns (data, stick_init_pos)."""
    stick_init = jnp.stack([rand_vec[0], rand_vec[1], jnp.asarray(0.02, jnp.float32)])
    qpos = (
        data.qpos.at[sim.qpos_index(9, 12)]
        .set(stick_init)
        .at[sim.qpos_index(16, 18)]
        .set(jnp.asarray(thermos_qpos, jnp.float32))
    )
    qvel = data.qvel.at[sim.dof_index(9, 15)].set(0.0).at[sim.dof_index(16, 17)].set(0.0)
    return data.replace(qpos=qpos, qvel=qvel), stick_init


def stick_quat(sim, data):
    return mat_to_quat_xyzw(data.xmat[sim.body("stick")].reshape(3, 3))


def objects_with(sim, data, second_pos):
    return (
        jnp.concatenate([sim.body_com(data, "stick"), second_pos]),
        jnp.concatenate([stick_quat(sim, data), jnp.zeros(4, jnp.float32)]),
    )


def tolerance(x, bound, margin):
    return reward_utils.tolerance(x, bounds=(0.0, bound), margin=margin, sigmoid="long_tail")
