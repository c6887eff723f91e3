"""window-close-v3: slide an open window shut by pushing its handle (metaworld SawyerWindowCloseEnvV3, reward v2).

Scene as window-open (handle bar proxy, gripper base box, sphere end stops). Reset keeps metaworld's stale
kinematics: the arm's, and the handle's from before the window is opened.
Fidelity figures: docs/fidelity.md.
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
    goal_low=(-0.5, 0.40, 0.05),
    goal_high=(0.5, 1.0, 0.5),
    reset=reset,
    objects=objects,
    evaluate=evaluate,
    stale_reset_arm=True,
    stale_reset_objects=stale_reset_objects,
)
