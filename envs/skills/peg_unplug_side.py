"""peg-unplug-side-v3: pull the plug sideways out of the wall socket (metaworld SawyerPegUnplugSideEnvV3 in
sawyer_peg_unplug_side_v3.py, reward v2).

Mass-less copies of the unnamed plug and socket colliders: the head sphere in the 4 socket boxes, the flange
cylinder on a plane at the socket's face (MJX has no cylinder-box), and each pad as 2 rows of 9 spheres
(`PAD_SPHERES`) on the plug's box, since MJX's box-box edge contacts press the plug down out of its socket. Elliptic
cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    FINGER_MARGIN,
    GEOM_CONTACT,
    HAND_MESH,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    PADS,
    combined_pair,
    euler_quat,
    gripper_caging_reward,
)

PLUG_OFFSET = (0.044, 0.0, 0.131)
GOAL_OFFSET = (0.15, 0.0, 0.0)
#: Class plug_col (the plug's and the socket's collision geoms): the values of common.OBJ_COL_CONTACT.
PLUG_COL = OBJ_COL_CONTACT
_Y90 = euler_quat(0.0, 1.57, 0.0)

#: The plug's unnamed collision geoms (body "plug"), duplicated mass-less for explicit pairs.
PLUG_HEAD = Proxy("plug_head_proxy", "plug", "sphere", (0.03,), pos=(-0.035, 0.0, 0.0))
PLUG_FLANGE = Proxy("plug_flange_proxy", "plug", "cylinder", (0.045, 0.007), pos=(-0.013, 0.0, 0.0), quat=_Y90)
PLUG_BODY = Proxy("plug_body_proxy", "plug", "box", (0.038, 0.038, 0.035), pos=(0.025, 0.0, 0.0), quat=_Y90)
PLUG_KNOB = Proxy("plug_knob_proxy", "plug", "sphere", (0.04,), pos=(0.06, 0.0, 0.0))
#: The socket's boxes around the hole (body "plug_wall"): the two sides, the top and the bottom.
SOCKET = tuple(
    Proxy(f"socket_proxy_{i}", "plug_wall", "box", size, pos=pos)
    for i, (pos, size) in enumerate(
        (
            ((0.0, 0.061, 0.032), (0.025, 0.039, 0.022)),
            ((0.0, 0.0, 0.077), (0.025, 0.1, 0.023)),
            ((0.0, 0.0, -0.045), (0.025, 0.1, 0.055)),
            ((0.0, -0.061, 0.032), (0.025, 0.039, 0.022)),
        )
    )
)
#: The socket's front face (x = +0.025 in plug_wall, shared by all its boxes), as a plane facing +x: what the
#: plug's flange rests against.
SOCKET_FACE = Proxy(
    "socket_face_proxy",
    "plug_wall",
    "plane",
    (0.0, 0.0, 0.01),
    pos=(0.025, 0.0, 0.0),
    quat=(0.7071067811865476, 0.0, 0.7071067811865476, 0.0),
)

#: The finger pads (stock boxes, half-size (0.045, 0.003, 0.015), on bodies leftpad / rightpad) as the plug's box sees
#: them: two rows (the pad's bottom and top edges, z = -/+0.012) of 9 spheres along its length (x = -0.042 ..
#: 0.042), radius 0.003 + FINGER_MARGIN (the stock 1 mm pad margin folded in: MJX's sphere-box drops
#: non-penetrating contacts; pair margin 0), so the spheres' hull is the margin-inflated pad. The expert lands the
#: pads on the box's top edge (rotated plug: a long edge along x, 1-2 mm of overlap) and pushes down for ~15 steps
#: before they slip off to its sides: pad-box there is a box-box edge contact, which MJX resolves with its face
#: clipping (a face-clip depth, the one contact point repeated up to 4 times: 3-4x the force of MuJoCo's 1-2
#: contacts) and the plug was pushed out of the socket; a sphere on an edge has one well-defined contact in both
#: MuJoCo and MJX.
PAD_SPHERE_X = tuple(-0.042 + 0.0105 * i for i in range(9))
PAD_SPHERE_Z = (-0.012, 0.012)
_PAD_BODY = {"leftpad_geom": "leftpad", "rightpad_geom": "rightpad"}
PAD_SPHERES = tuple(
    Proxy(f"{pad}_sphere{i}", _PAD_BODY[pad], "sphere", (0.003 + FINGER_MARGIN,), pos=(x, 0.0, z))
    for pad in PADS
    for i, (z, x) in enumerate((z, x) for z in PAD_SPHERE_Z for x in PAD_SPHERE_X)
)


def _margin0(pair):
    return dataclasses.replace(pair, margin=0.0)


SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_peg_unplug_side.xml",
    proxies=(PLUG_HEAD, PLUG_FLANGE, PLUG_BODY, PLUG_KNOB, SOCKET_FACE) + SOCKET + PAD_SPHERES + (HAND_MESH,),
    pairs=tuple(combined_pair(PLUG_HEAD.name, PLUG_COL, s.name, PLUG_COL) for s in SOCKET)
    + (combined_pair(SOCKET_FACE.name, PLUG_COL, PLUG_FLANGE.name, PLUG_COL),)
    + tuple(
        _margin0(combined_pair(PLUG_BODY.name, PLUG_COL, sp.name, GEOM_CONTACT[sp.name.split("_sphere")[0]]))
        for sp in PAD_SPHERES
    )
    + tuple(combined_pair(PLUG_KNOB.name, PLUG_COL, g, GEOM_CONTACT[g]) for g in PADS)
    + tuple(
        _margin0(combined_pair(HAND_MESH.name, HAND_MESH_CONTACT, p.name, PLUG_COL)) for p in (PLUG_BODY, PLUG_KNOB)
    ),
    cone="elliptic",
)


def _plug_adr(sim):
    j = int(sim.model.body_jntadr[sim.body("plug1")])
    return int(sim.model.jnt_qposadr[j]), int(sim.model.jnt_dofadr[j])


def reset(sim, data, rand_vec):
    pos_box = rand_vec[:3]
    pos_plug = pos_box + jnp.asarray(PLUG_OFFSET, jnp.float32)
    qa, da = _plug_adr(sim)
    qpos = data.qpos.at[qa : qa + 3].set(pos_plug).at[qa + 3 : qa + 7].set(jnp.asarray([1.0, 0.0, 0.0, 0.0]))
    data = data.replace(qpos=qpos, qvel=data.qvel.at[da : da + 3].set(0.0))
    body_pos = sim.mx.body_pos.at[sim.body("box")].set(pos_box.astype(sim.mx.body_pos.dtype))
    obj_init_pos = mjx.kinematics(sim.mx.replace(body_pos=body_pos), data).site_xpos[sim.site("pegEnd")]
    task = {
        "target_pos": pos_plug + jnp.asarray(GOAL_OFFSET, jnp.float32),
        "obj_init_pos": obj_init_pos,
        "model": {"body_pos": body_pos},
    }
    return data, task


def objects(sim, data, task):
    return sim.site_xpos(data, "pegEnd"), sim.body_xquat(data, "plug1")


def evaluate(sim, data, obs, action, task):
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    tcp_opened = obs[3]
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    obj_to_target = jnp.linalg.norm(obj - target)
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.025,
        pad_success_thresh=0.05,
        object_reach_radius=0.01,
        xz_thresh=0.005,
        desired_gripper_effort=0.8,
        high_density=True,
    )
    in_place_margin = jnp.linalg.norm(obj_init - target)
    in_place = reward_utils.tolerance(obj_to_target, bounds=(0.0, 0.05), margin=in_place_margin, sigmoid="long_tail")
    grasp_success = (tcp_opened > 0.5) & (obj[0] - obj_init[0] > 0.015)
    reward = 2.0 * grasped
    reward = jnp.where(grasp_success & (tcp_to_obj < 0.035), 1.0 + 2.0 * grasped + 5.0 * in_place, reward)
    reward = jnp.where(obj_to_target <= 0.05, 10.0, reward)
    info = skill_info(
        success=(obj_to_target <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=grasp_success.astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=in_place,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info


SKILL = Skill(
    name="peg-unplug-side-v3",
    scene=SCENE,
    goal_low=(-0.25 + 0.194, 0.6, -0.001 + 0.131),
    goal_high=(-0.15 + 0.194, 0.8, 0.001 + 0.131),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
)
