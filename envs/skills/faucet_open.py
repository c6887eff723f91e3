"""faucet-open-v3: turn the faucet handle to the right (metaworld SawyerFaucetOpenEnvV3, reward v2).

Also `faucet_skill`, the builder shared with faucet-close-v3 (they differ in the observed handle site, the goal's
side, an offset on the observed handle in the reward, and whether reset runs mj_forward).

The unnamed handle capsule is duplicated, paired with the pads and claws (pad margin folded into its radius) and
with HAND_BOX. faucet-open's reset keeps metaworld's stale arm kinematics; faucet-close's runs mj_forward. Pyramidal
cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.sawyer import Skill, skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    CLAWS,
    FINGER_MARGIN,
    HAND_BOX,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    PADS,
    combined_pair,
    euler_quat,
    gripper_pairs,
)

HAND_INIT_POS = (0.0, 0.4, 0.2)
HAND_LOW = (-0.5, 0.40, -0.15)
HAND_HIGH = (0.5, 1.0, 0.5)
HANDLE_LENGTH = 0.175
TARGET_RADIUS = 0.07

#: The handle (stock capsule r 0.017, half-length 0.055, class faucet_col, euler (1.57, 0, 0)) on faucet_link2; the
#: fingers' 1 mm margin folded into the radius (MJX's capsule-box drops non-penetrating contacts).
HANDLE = Proxy(
    "faucet_handle_proxy",
    "faucet_link2",
    "capsule",
    (0.017 + FINGER_MARGIN, 0.055),
    pos=(0.0, -0.12, 0.001),
    quat=euler_quat(1.57, 0.0, 0.0),
)

SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_faucet.xml",
    proxies=(HANDLE, HAND_BOX),
    pairs=gripper_pairs(HANDLE.name, OBJ_COL_CONTACT, PADS + CLAWS, fold_margin=True)
    + (combined_pair(HAND_BOX.name, HAND_MESH_CONTACT, HANDLE.name, OBJ_COL_CONTACT),),
    cone="pyramidal",
)


def faucet_skill(name: str, side: float, site: str, goal_site: str, obj_offset, stale_reset_arm: bool) -> Skill:
    """A faucet skill: the goal on the `side` (+1 open, -1 close) of the base, observed handle `site`."""
    offset = jnp.asarray(obj_offset, jnp.float32)

    def reset(sim, data, rand_vec):
        target = rand_vec + jnp.array([side * HANDLE_LENGTH, 0.0, 0.125])
        body_pos = sim.mx.body_pos.at[sim.body("faucetBase")].set(rand_vec.astype(sim.mx.body_pos.dtype))
        site_pos = sim.mx.site_pos.at[sim.site(goal_site)].set(target.astype(sim.mx.site_pos.dtype))
        task = {"target_pos": target, "obj_init_pos": rand_vec, "model": {"body_pos": body_pos, "site_pos": site_pos}}
        return data, task

    def objects(sim, data, task):
        return sim.site_xpos(data, site) + jnp.array([0.0, 0.0, -0.01]), sim.body_xquat(data, "faucetBase")

    def evaluate(sim, data, obs, action, task):
        del action
        obj = obs[4:7] + offset
        tcp = sim.tcp_center(data)
        target = task["target_pos"]
        obj_init = task["obj_init_pos"]
        init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
        target_to_obj = jnp.linalg.norm(obj - target)
        target_to_obj_init = jnp.linalg.norm(obj_init - target)
        in_place = reward_utils.tolerance(
            target_to_obj,
            bounds=(0.0, TARGET_RADIUS),
            margin=jnp.abs(target_to_obj_init - TARGET_RADIUS),
            sigmoid="long_tail",
        )
        tcp_to_obj = jnp.linalg.norm(obj - tcp)
        tcp_to_obj_init = jnp.linalg.norm(obj_init - init_tcp)
        reach = reward_utils.tolerance(
            tcp_to_obj, bounds=(0.0, 0.01), margin=jnp.abs(tcp_to_obj_init - 0.01), sigmoid="gaussian"
        )
        reward = 2.0 * (2.0 * reach + 3.0 * in_place)
        reward = jnp.where(target_to_obj <= TARGET_RADIUS, 10.0, reward)
        info = skill_info(
            success=(target_to_obj <= TARGET_RADIUS).astype(jnp.float32),
            near_object=(tcp_to_obj <= 0.01).astype(jnp.float32),
            grasp_success=jnp.ones(()),
            grasp_reward=reach,
            in_place_reward=in_place,
            obj_to_target=target_to_obj,
            unscaled_reward=reward,
        )
        return reward, info

    return Skill(
        name=name,
        scene=SCENE,
        hand_init_pos=HAND_INIT_POS,
        hand_low=HAND_LOW,
        goal_low=HAND_LOW,
        goal_high=HAND_HIGH,
        reset=reset,
        objects=objects,
        evaluate=evaluate,
        stale_reset_arm=stale_reset_arm,
    )


SKILL = faucet_skill("faucet-open-v3", +1.0, "handleStartOpen", "goal_open", (-0.04, 0.0, 0.03), True)
