"""window-open-v3: slide a window open by pushing its handle (metaworld SawyerWindowOpenEnvV3, reward v2).

The unnamed handle bar capsule is duplicated as a proxy and pushed by a box in place of the gripper base mesh; each
end stop is one sphere-box contact against the frame. Reset keeps metaworld's stale arm kinematics (no mj_forward).
Default (pyramidal) cone.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import OBJ_COL_CONTACT, combined_pair, full_solimp

HAND_INIT_POS = (0.0, 0.4, 0.2)
TARGET_RADIUS = 0.05
HANDLE_RADIUS = 0.02

#: MuJoCo's default contact parameters: the gripper base mesh geom of right_hand has them.
DEFAULT_CONTACT = dict(
    condim=3, friction=(1.0, 0.005, 0.0001), solref=(0.02, 1.0), solimp=(0.9, 0.95, 0.001, 0.5, 2.0), margin=0.0
)
_OBJ = full_solimp(OBJ_COL_CONTACT)

#: The window handle bar: stock capsule (class window_col) of body windowb_a.
HANDLE = Proxy("window_handle_proxy", "windowb_a", "capsule", (0.008, 0.045), pos=(-0.014, -0.095, 0.0))
#: The gripper base (stock mesh eGripperBase of right_hand) as a box in the right_hand frame (x_rh is world -x,
#: z_rh world down): the mesh spans y [-0.053, 0.053], z [0.0275, 0.081], and in x [-0.0244, 0.0305] except a
#: central bulge to x = 0.0415 for |y| < 0.02. The expert pushes the handle at y 0.005-0.047: the box's +x face
#: is halfway into the bulge, x = 0.0355 (window-close's push then tracks metaworld's within 3 mm, vs 9 mm with
#: either extreme).
GRIPPER_BASE = Proxy("gripper_base_proxy", "right_hand", "box", (0.02995, 0.05275, 0.0267), pos=(0.00555, 0.0, 0.0542))

#: The sash's end stops. Stock: its boxes hit the frame's side boxes just past the slide's range (0..0.2),
#: which the soft joint limit alone does not hold against the gripper's push (the window would slide 5 cm
#: past it). A sphere at each end of the sash (its extreme x = the stock box face) against a duplicate of
#: the frame side box. Open end: sash box x in [-0.028, 0] + slide vs frame box x in [0.201, 0.231].
STOP_OPEN = Proxy("window_stop_open_proxy", "windowb_a", "sphere", (0.01,), pos=(-0.01, -0.013, 0.0))
FRAME_OPEN = Proxy("window_frame_open_proxy", "window", "box", (0.015, 0.03, 0.181), pos=(0.216, 0.0, 0.0))
#: Closed end: sash box x in [-0.2, -0.18] + slide vs frame box x in [-0.231, -0.201].
STOP_CLOSED = Proxy("window_stop_closed_proxy", "windowb_a", "sphere", (0.01,), pos=(-0.19, -0.013, 0.0))
FRAME_CLOSED = Proxy("window_frame_closed_proxy", "window", "box", (0.015, 0.03, 0.181), pos=(-0.216, 0.0, 0.0))


def _stop(a, b):
    # One frictionless contact (the sash only slides along x) in place of the stock 3: stiffer impedance.
    return dataclasses.replace(combined_pair(a, _OBJ, b, _OBJ), condim=1, solimp=(0.999, 0.999, 0.01, 0.5, 2.0))


SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_window_horizontal.xml",
    proxies=(HANDLE, GRIPPER_BASE, STOP_OPEN, FRAME_OPEN, STOP_CLOSED, FRAME_CLOSED),
    pairs=(
        combined_pair(GRIPPER_BASE.name, DEFAULT_CONTACT, HANDLE.name, _OBJ),
        _stop(STOP_OPEN.name, FRAME_OPEN.name),
        _stop(STOP_CLOSED.name, FRAME_CLOSED.name),
    ),
)


def window_model(sim, rand_vec):
    """Per-instance model override: the window body at rand_vec."""
    return {"body_pos": sim.mx.body_pos.at[sim.body("window")].set(rand_vec.astype(sim.mx.body_pos.dtype))}


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec
    model = window_model(sim, rand_vec)
    kin = mjx.kinematics(sim.mx.replace(**model), data)  # slide at its settled value, as metaworld reads it
    handle_init = kin.site_xpos[sim.site("handleOpenStart")]
    qa = sim.joint_qpos("window_slide")
    data = data.replace(qpos=data.qpos.at[qa].set(0.0))
    task = {
        "target_pos": obj_init_pos + jnp.array([0.2, 0.0, 0.0]),
        "obj_init_pos": obj_init_pos,
        "handle_init": handle_init,
        "model": model,
    }
    return data, task


def window_functions(site: str, init_key: str, reach_sigmoid: str):
    """``(objects, evaluate)`` of a window skill. metaworld's v2 window-open and window-close rewards
    differ only in the handle site observed, the task entry whose x sets the in-place margin
    (``obj_init_pos`` / ``handle_init``) and the reach term's sigmoid (long_tail / gaussian)."""

    def objects(sim, data, task):
        return sim.site_xpos(data, site), jnp.zeros(4)

    def evaluate(sim, data, obs, action, task):
        del obs, action
        obj = sim.site_xpos(data, site)
        tcp = sim.tcp_center(data)
        target = task["target_pos"]
        init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
        target_to_obj = jnp.abs(obj[0] - target[0])
        target_to_obj_init = jnp.abs(task[init_key][0] - target[0])
        in_place = reward_utils.tolerance(
            target_to_obj,
            bounds=(0.0, TARGET_RADIUS),
            margin=jnp.abs(target_to_obj_init - TARGET_RADIUS),
            sigmoid="long_tail",
        )
        tcp_to_obj = jnp.linalg.norm(obj - tcp)
        tcp_to_obj_init = jnp.linalg.norm(task["handle_init"] - init_tcp)
        reach = reward_utils.tolerance(
            tcp_to_obj,
            bounds=(0.0, HANDLE_RADIUS),
            margin=jnp.abs(tcp_to_obj_init - HANDLE_RADIUS),
            sigmoid=reach_sigmoid,
        )
        reward = 10.0 * reward_utils.hamacher_product(reach, in_place)
        info = skill_info(
            success=(target_to_obj <= TARGET_RADIUS).astype(jnp.float32),
            near_object=(tcp_to_obj <= 0.05).astype(jnp.float32),
            grasp_success=jnp.ones(()),
            grasp_reward=reach,
            in_place_reward=in_place,
            obj_to_target=target_to_obj,
            unscaled_reward=reward,
        )
        return reward, info

    return objects, evaluate


objects, evaluate = window_functions("handleOpenStart", "obj_init_pos", "long_tail")


SKILL = Skill(
    name="window-open-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    goal_low=(-0.5, 0.40, 0.05),
    goal_high=(0.5, 1.0, 0.5),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    stale_reset_arm=True,
)
