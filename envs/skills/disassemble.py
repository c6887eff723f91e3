"""disassemble-v3: pull the round nut up off the peg by its handle (metaworld SawyerNutDisassembleEnvV3 in
sawyer_disassemble_peg_v3.py, reward v2). Scene, observed object and shared reward pieces: envs.skills.assembly
(same stock XML, one SceneConfig: the two skills share one compiled physics).

The reset hand settle is envs.skills.task_settle's, per task: the peg, already placed during metaworld's second
settle, can shove the nut aside, which MJX cannot reproduce to float precision.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill
from envs.skills import assembly, task_settle
from envs.skills.common import gripper_caging_reward

HAND_INIT_POS = (0.0, 0.4, 0.2)
PEG_OFFSET = (0.0, 0.0, 0.03)


def reset(sim, data, rand_vec):
    obj_init_pos = rand_vec[:3]
    target_pos = obj_init_pos + jnp.asarray([0.0, 0.0, 0.15], jnp.float32)
    peg_pos = obj_init_pos + jnp.asarray(PEG_OFFSET, jnp.float32)
    model = assembly.peg_model(sim, peg_pos, obj_init_pos + jnp.asarray([0.0, 0.0, 0.08], jnp.float32))
    data, init_tcp, exact = task_settle.hand_settle(
        sim, data, sim.mx.replace(**model), HAND_INIT_POS, moved_body="peg", rand_vec=rand_vec
    )
    data = assembly.set_nut_pos(sim, data, obj_init_pos)
    return data, {
        "target_pos": target_pos,
        "obj_init_pos": obj_init_pos,
        "init_tcp": init_tcp,
        "model": model,
        "settle_exact": exact.astype(jnp.float32),
    }


def _reward_pos(wrench_center, target_pos):
    pos_error = target_pos + jnp.asarray([0.0, 0.0, 0.1], jnp.float32) - wrench_center
    lifted = wrench_center[2] > 0.02
    return 0.1 * lifted.astype(jnp.float32) + 0.9 * reward_utils.tolerance(
        jnp.linalg.norm(pos_error), bounds=(0.0, 0.02), margin=0.2, sigmoid="long_tail"
    )


def evaluate(sim, data, obs, action, task):
    wrench_center = sim.site_xpos(data, "RoundNut")
    quat = assembly.reward_quat(obs)
    reward_grab = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        assembly.wrench_threshed(obs),
        obj_radius=0.015,
        pad_success_thresh=0.02,
        object_reach_radius=0.01,
        xz_thresh=0.01,
        high_density=True,
    )
    in_place = _reward_pos(wrench_center, task["target_pos"])
    reward = (2.0 * reward_grab + 6.0 * in_place) * quat
    success = obs[6] > task["target_pos"][2]
    reward = jnp.where(success, 10.0, reward)
    return reward, assembly.nut_info(reward, reward_grab, quat, in_place, success)


SKILL = Skill(
    name="disassemble-v3",
    scene=assembly.SCENE,
    hand_init_pos=HAND_INIT_POS,
    goal_low=(-0.1, 0.6, 0.1699 + 0.005),
    goal_high=(0.1, 0.75, 0.1701 + 0.005),
    reset=reset,
    objects=assembly.objects,
    evaluate=evaluate,
    settle_body="peg",
)
