"""window-close-v3: slide an open window shut by pushing its handle (metaworld SawyerWindowCloseEnvV3, reward v2).

Metaworld semantics kept here:
* reset moves the window (`model.body("window").pos = rand_vec`, a per-instance model override), reads
  `window_handle_pos_init` = the "handleCloseStart" site with the slide at its settled value (closed) plus
  (0.2, 0, 0), then opens the window (slide = 0.2) and calls no mj_forward. So metaworld's reset observation
  shows the arm's stale settle kinematics (`stale_reset_arm`) AND the handle where it was before the window
  was opened (`stale_reset_objects`): 0.2 m off the handle's real position, for the reset obs and the first
  step's previous frame.
* the observed object is the "handleCloseStart" site, quat zeros(4).

Scene: as window-open (handle bar proxy, gripper base box, sphere end stops against the frame).
"""
from __future__ import annotations

import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import Skill
from envs.skills.window_open import HAND_INIT_POS, HANDLE_RADIUS, SCENE, TARGET_RADIUS, window_model


def _with_slide(sim, data, value):
    qa = sim.joint_qpos("window_slide")
    return data.replace(qpos=data.qpos.at[qa].set(value))


def _settled_slide(sim):
    return float(sim.settled["qpos"][sim.joint_qpos("window_slide")])


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec
    model = window_model(sim, rand_vec)
    kin = mjx.kinematics(sim.mx.replace(**model), data)  # slide at its settled value, as metaworld reads it
    handle_init = kin.site_xpos[sim.site("handleCloseStart")] + jnp.array([0.2, 0.0, 0.0])
    data = _with_slide(sim, data, 0.2)
    task = {"target_pos": obj_init_pos, "obj_init_pos": obj_init_pos, "handle_init": handle_init, "model": model}
    return data, task


def stale_reset_objects(sim, data, task):
    """The kinematics metaworld's reset observation reads: the window still closed (settled slide)."""
    return mjx.kinematics(sim.mx.replace(**task["model"]), _with_slide(sim, data, _settled_slide(sim)))


def objects(sim, data, task):
    return sim.site_xpos(data, "handleCloseStart"), jnp.zeros(4)


def evaluate(sim, data, obs, action, task):
    del obs, action
    obj = sim.site_xpos(data, "handleCloseStart")
    tcp = sim.tcp_center(data)
    target = task["target_pos"]
    init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
    target_to_obj = jnp.abs(obj[0] - target[0])
    target_to_obj_init = jnp.abs(task["handle_init"][0] - target[0])
    in_place = reward_utils.tolerance(
        target_to_obj, bounds=(0.0, TARGET_RADIUS), margin=jnp.abs(target_to_obj_init - TARGET_RADIUS),
        sigmoid="long_tail",
    )
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    tcp_to_obj_init = jnp.linalg.norm(task["handle_init"] - init_tcp)
    reach = reward_utils.tolerance(
        tcp_to_obj, bounds=(0.0, HANDLE_RADIUS), margin=jnp.abs(tcp_to_obj_init - HANDLE_RADIUS), sigmoid="gaussian"
    )
    reward = 10.0 * reward_utils.hamacher_product(reach, in_place)
    info = {
        "success": (target_to_obj <= TARGET_RADIUS).astype(jnp.float32),
        "near_object": (tcp_to_obj <= 0.05).astype(jnp.float32),
        "grasp_success": jnp.ones(()),
        "grasp_reward": reach,
        "in_place_reward": in_place,
        "obj_to_target": target_to_obj,
        "unscaled_reward": reward,
    }
    return reward, info


SKILL = Skill(
    name="window-close-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    hand_low=(-0.5, 0.40, 0.05),
    hand_high=(0.5, 1.0, 0.5),
    goal_low=(-0.5, 0.40, 0.05),
    goal_high=(0.5, 1.0, 0.5),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    stale_reset_arm=True,
    stale_reset_objects=stale_reset_objects,
)
