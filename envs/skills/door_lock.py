"""door-lock-v3: press a safe door's lock lever down (metaworld SawyerDoorLockEnvV3 in sawyer_door_lock_v3.py,
reward v2).

`SCENE`, shared exactly with door-unlock-v3: copies of the lock lever, lock base and door panel dl_col boxes against
the left pad and claw and HAND_BOX. The reset hand settle is simulated per task (the claw may brush the lock).
Elliptic cone: only with it does that brush follow metaworld's.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from envs import reward_utils
from envs.sawyer import HAND_INIT_POS, Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills import task_settle
from envs.skills.common import (
    GEOM_CONTACT,
    HAND_BOX,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    combined_pair,
    metaworld_init_pads,
)

HAND_LOW = (-0.5, 0.40, -0.15)
HAND_HIGH = (0.5, 1.0, 0.5)
LOCK_LENGTH = 0.1
SCALE = (0.25, 1.0, 0.5)

#: dl_col boxes (unnamed in doorlockA.xml), duplicated with their size and placement.
LOCK = Proxy("lock_proxy", "lock_link", "box", (0.05, 0.019, 0.01), pos=(0.042, -0.024, 0.0))
LOCK_BASE = Proxy("lock_base_proxy", "door_link", "box", (0.047, 0.013, 0.047), pos=(0.185, -0.009, 0.061))
PANEL = Proxy("door_panel_proxy", "door_link", "box", (0.184, 0.01, 0.124), pos=(0.185, 0.0, 0.0))
HAND = HAND_BOX

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_door_lock.xml",
    proxies=(LOCK, LOCK_BASE, PANEL, HAND),
    pairs=tuple(combined_pair(LOCK.name, OBJ_COL_CONTACT, g, GEOM_CONTACT[g]) for g in ("leftpad_geom", "leftclaw_it"))
    + tuple(combined_pair(HAND.name, HAND_MESH_CONTACT, p.name, OBJ_COL_CONTACT) for p in (LOCK, LOCK_BASE, PANEL)),
    cone="elliptic",
)


def place_door(sim, rand_vec):
    """Per-instance model override: the safe body at rand_vec."""
    return {"body_pos": sim.mx.body_pos.at[sim.body("door")].set(rand_vec)}


def settle(sim, data, rand_vec):
    """Place the safe (per-instance model override) and run metaworld's hand settle with it there: the
    open claw can hit the lock on its way in (the left claw / pad against the lock box, on about half of the MT1
    tasks), so the settle depends on the task: metaworld's table where the env has it, else simulated
    (envs.skills.task_settle). Measured on MT1 task 0: CPU MuJoCo on this scene matches metaworld's settled
    arm joints to 1e-7 rad with the elliptic cone (1.8e-2 rad off with the pyramidal one), but MJX's box-box
    collider does not reproduce that impact: its simulated settle is 1.1e-2 rad / 6.7 mm (reset hand) off.
    Returns (data, model overrides, init_tcp, exact)."""
    model = place_door(sim, rand_vec)
    data, init_tcp, exact = task_settle.hand_settle(
        sim, data, sim.mx.replace(**model), HAND_INIT_POS, moved_body="door", rand_vec=rand_vec
    )
    return data, model, init_tcp, exact


def reset(sim, data, rand_vec):
    data, model, init_tcp, exact = settle(sim, data, rand_vec)
    m = sim.mx.replace(**model)
    data, _ = jax.lax.scan(lambda d, _: (mjx.step(m, d), None), data, None, length=4)
    before_last = data.qpos
    data = mjx.step(m, data)
    # lock_link's frame position (xpos left by the last step: the kinematics of the state before it).
    obj_init_pos = sim.body_xpos(data, "lock_link")
    target_pos = obj_init_pos + jnp.asarray([0.0, -0.04, -0.1])
    return data, {
        "target_pos": target_pos,
        "obj_init_pos": obj_init_pos,
        "model": model,
        "stale_qpos": before_last,
        "init_tcp": init_tcp,
        "settle_exact": exact.astype(jnp.float32),
    }


def stale_frame(sim, data, task):
    return mjx.forward(sim.mx.replace(**task["model"]), data.replace(qpos=task["stale_qpos"]))


def objects_at(site: str):
    def objects(sim, data, task):
        return sim.site_xpos(data, site), sim.body_xquat(data, "door_link")

    return objects


def evaluate(sim, data, obs, action, task):
    obj = obs[4:7]
    scale = jnp.asarray(SCALE)
    left_pad = sim.body_com(data, "leftpad")
    init_left_pad, _ = metaworld_init_pads(sim, data)  # == left_pad (live view)
    tcp_to_obj = jnp.linalg.norm((obj - left_pad) * scale)
    tcp_to_obj_init = jnp.linalg.norm((obj - init_left_pad) * scale)
    obj_to_target = jnp.abs(task["target_pos"][2] - obj[2])
    tcp_opened = jnp.maximum(obs[3], 0.0)
    near_lock = reward_utils.tolerance(tcp_to_obj, bounds=(0.0, 0.01), margin=tcp_to_obj_init, sigmoid="long_tail")
    pressed = reward_utils.tolerance(obj_to_target, bounds=(0.0, 0.005), margin=LOCK_LENGTH, sigmoid="long_tail")
    reward = 2.0 * reward_utils.hamacher_product(tcp_opened, near_lock) + 8.0 * pressed
    return reward, lock_info(reward, tcp_to_obj, obs[3], obj_to_target, near_lock, pressed)


def lock_info(reward, tcp_to_obj, tcp_open, obj_to_target, near, pressed):
    """evaluate_state's info of door-lock / door-unlock."""
    return skill_info(
        success=(obj_to_target <= 0.02).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.05).astype(jnp.float32),
        grasp_success=(tcp_open > 0).astype(jnp.float32),
        grasp_reward=near,
        in_place_reward=pressed,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )


SKILL = Skill(
    name="door-lock-v3",
    scene=SCENE,
    hand_low=HAND_LOW,
    goal_low=HAND_LOW,
    goal_high=HAND_HIGH,
    reset=reset,
    objects=objects_at("lockStartLock"),
    evaluate=evaluate,
    stale_reset_frame=stale_frame,
    settle_body="door",
)
