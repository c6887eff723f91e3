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

from envs.sawyer import Skill
from envs.skills.window_open import HAND_INIT_POS, SCENE, window_functions, window_model


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


objects, evaluate = window_functions("handleCloseStart", "handle_init", "gaussian")


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
