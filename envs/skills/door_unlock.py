"""door-unlock-v3: push a safe door's lock lever up from its locked position (metaworld
SawyerDoorUnlockEnvV3 in sawyer_door_unlock_v3.py, reward v2).

Scene door-lock-v3's (`envs.skills.door_lock.SCENE`), shared exactly; the hand settle is per task
(`door_lock.settle`), then the lock is set locked.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.skills import door_lock

OFFSET = (0.0, 0.055, 0.07)


def reset(sim, data, rand_vec):
    data, model, init_tcp, exact = door_lock.settle(sim, data, rand_vec)
    jnt = sim.model.body_jntadr[sim.body("lock_link")]  # the lock's hinge (unnamed; metaworld: qpos[9])
    q, dof = sim.model.jnt_qposadr[jnt], sim.model.jnt_dofadr[jnt]
    data = data.replace(qpos=data.qpos.at[q].set(1.5708), qvel=data.qvel.at[dof].set(0.0))
    # lock_link's frame position: the safe's position + the fixed offsets of doorlockA, door_link, lock_link
    # (no rotations in between).
    offset = sum(sim.model.body_pos[sim.body(b)] for b in ("doorlockA", "door_link", "lock_link"))
    obj_init_pos = rand_vec + jnp.asarray(offset, jnp.float32)
    target_pos = obj_init_pos + jnp.asarray([0.1, -0.04, 0.0])
    return data, {
        "target_pos": target_pos,
        "obj_init_pos": obj_init_pos,
        "model": model,
        "init_tcp": init_tcp,
        "settle_exact": exact.astype(jnp.float32),
    }


def evaluate(sim, data, obs, action, task):
    hand = obs[:3]
    lock = obs[4:7]
    scale = jnp.asarray(door_lock.SCALE)
    offset = jnp.asarray(OFFSET)
    init_tcp = task["init_tcp"]  # the task's settled tcp (door_lock.settle)
    shoulder_to_lock = jnp.linalg.norm((hand + offset - lock) * scale)
    obj_init_pos = sim.body_xpos(data, "lock_link")  # metaworld: a live view of lock_link's xpos
    shoulder_to_lock_init = jnp.linalg.norm((init_tcp + offset - obj_init_pos) * scale)
    ready = reward_utils.tolerance(
        shoulder_to_lock, bounds=(0.0, 0.02), margin=shoulder_to_lock_init, sigmoid="long_tail"
    )
    obj_to_target = jnp.abs(task["target_pos"][0] - lock[0])
    pushed = reward_utils.tolerance(
        obj_to_target, bounds=(0.0, 0.005), margin=door_lock.LOCK_LENGTH, sigmoid="long_tail"
    )
    reward = 2.0 * ready + 8.0 * pushed
    return reward, door_lock.lock_info(reward, shoulder_to_lock, obs[3], obj_to_target, ready, pushed)


SKILL = Skill(
    name="door-unlock-v3",
    scene=door_lock.SCENE,
    hand_low=door_lock.HAND_LOW,
    goal_low=(0.0, 0.64, 0.21),
    goal_high=(0.2, 0.7, 0.2111),
    reset=reset,
    objects=door_lock.objects_at("lockStartUnlock"),
    evaluate=evaluate,
    settle_body="door",
)
