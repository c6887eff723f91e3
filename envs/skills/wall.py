"""Pieces shared by the wall skills (reach-wall-v3, push-wall-v3, pick-place-wall-v3).

Stock scenes (sawyer_reach_wall_v3.xml / sawyer_push_wall_v3.xml / sawyer_pick_place_wall_v3.xml): the
reach/push/pick-place puck scene plus a brick wall, body "wall" at (0.1, 0.75, 0.06), two coincident
boxes of half-size (0.12, 0.01, 0.06) (a visual one and a `wall_col` one, both colliding), i.e. x in
[-0.02, 0.22], y in [0.74, 0.76], z in [0, 0.12]: between the puck (y 0.6-0.65) and the goals (y >= 0.85).

The wall stays a box (`WALL`, the `wall_col` geom's size and contact parameters); MJX collides it with the
puck's capsule proxy and the hand's capsule proxy (capsule-box). In metaworld's expert rollouts the
pads/claws never touch the wall, so no (box, box) finger-wall pairs (contact survey: docs/skill_notes.md).

The push-wall and pick-place-wall XMLs differ only in the goal site's default position (metaworld moves the
site at every reset; it plays no part in physics or observations), so both skills use ONE scene built from
sawyer_push_wall_v3.xml (`PUCK_WALL_SCENE`), identical for both.

Reward of push-wall / pick-place-wall (`puck_wall_evaluate`): metaworld's two-stage in-place reward through
a midpoint in front of the wall, then to the goal once the puck is past y = 0.75.
"""

from __future__ import annotations

import jax.numpy as jnp

from envs import reward_utils
from envs.rotations import mat_to_quat_xyzw
from envs.sawyer import skill_info
from envs.scene import Proxy, SceneConfig
from envs.skills.common import (
    HAND_MESH,
    HAND_MESH_CONTACT,
    OBJ_COL_CONTACT,
    PUCK_PROXY,
    TABLE,
    combined_pair,
    gripper_caging_reward,
    puck_pairs,
)

TARGET_RADIUS = 0.05
#: The stock wall_col box (unnamed): same size, on the wall body. Its contact parameters (class wall_col:
#: condim 3, default friction, solref 0.01 1, solimp 0.99 0.99 0.01, margin 0) equal OBJ_COL_CONTACT.
WALL = Proxy("wall_proxy", "wall", "box", (0.12, 0.01, 0.06))
WALL_CONTACT = OBJ_COL_CONTACT
#: objGeom's own contact parameters (the puck proxy copies them).
PUCK_CONTACT = dict(
    condim=4, friction=(1.0, 0.1, 0.002), solref=(0.01, 1.0), solimp=(0.99, 0.99, 0.01, 0.5, 2.0), margin=0.0
)

#: The hand (collision mesh as the HAND_MESH capsule) against the wall.
HAND_WALL_PAIR = combined_pair(HAND_MESH.name, HAND_MESH_CONTACT, WALL.name, WALL_CONTACT)

PUCK_WALL_SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_push_wall_v3.xml",
    proxies=(TABLE, PUCK_PROXY, WALL, HAND_MESH),
    # push/pick-place's puck pairs (puck-table, pads-puck proxy) + puck-wall + hand-wall.
    pairs=puck_pairs() + (combined_pair(PUCK_PROXY.name, PUCK_CONTACT, WALL.name, WALL_CONTACT), HAND_WALL_PAIR),
    cone="elliptic",
)


def obj_geom_objects(sim, data, task):
    """`_get_pos_objects` (objGeom's xpos) and `_get_quat_objects` of the push/pick-place wall skills."""
    return sim.geom_xpos(data, "objGeom"), mat_to_quat_xyzw(sim.geom_xmat(data, "objGeom"))


def puck_wall_evaluate(
    sim,
    data,
    obs,
    action,
    task,
    *,
    midpoint_fn,
    in_place_scaling,
    high_density: bool,
    lift: float | None,
    base_fn,
    main_object: str = PUCK_PROXY.name,
):
    """compute_reward v2 + evaluate_state of push-wall / pick-place-wall.

    midpoint_fn(obj, target) -> (3,): the waypoint in front of the wall; in_place_scaling: its distance
    weights; high_density: caging-reward flag; lift: the stage bonus also needs obj z - lift > init z
    (None: no height condition); base_fn(grasped, in_place_part1) -> the reward before the stage bonus
    (its value is also the stage bonus' first term).
    """
    tcp = sim.tcp_center(data)
    obj = obs[4:7]
    tcp_opened = obs[3]
    target = task["target_pos"]
    obj_init = task["obj_init_pos"]
    midpoint = midpoint_fn(obj, target)
    scaling = jnp.asarray(in_place_scaling, jnp.float32)
    tcp_to_obj = jnp.linalg.norm(obj - tcp)
    obj_to_midpoint = jnp.linalg.norm((obj - midpoint) * scaling)
    obj_to_midpoint_init = jnp.linalg.norm((obj_init - midpoint) * scaling)
    obj_to_target = jnp.linalg.norm(obj - target)
    obj_to_target_init = jnp.linalg.norm(obj_init - target)
    tol = reward_utils.tolerance
    part1 = tol(obj_to_midpoint, bounds=(0.0, TARGET_RADIUS), margin=obj_to_midpoint_init, sigmoid="long_tail")
    part2 = tol(obj_to_target, bounds=(0.0, TARGET_RADIUS), margin=obj_to_target_init, sigmoid="long_tail")
    grasped = gripper_caging_reward(
        sim,
        data,
        task,
        action,
        obj,
        obj_radius=0.015,
        pad_success_thresh=0.05,
        object_reach_radius=0.01,
        xz_thresh=0.005,
        high_density=high_density,
    )
    base = base_fn(grasped, part1)
    near = (tcp_to_obj < 0.02) & (tcp_opened > 0)
    if lift is not None:
        near = near & (obj[2] - lift > obj_init[2])
    staged = jnp.where(obj[1] > 0.75, base + 1.0 + 4.0 + 3.0 * part2, base + 1.0 + 4.0 * part1)
    reward = jnp.where(near, staged, base)
    reward = jnp.where(obj_to_target < TARGET_RADIUS, 10.0, reward)
    touching = sim.touching(data, main_object)
    info = skill_info(
        success=(obj_to_target <= 0.07).astype(jnp.float32),
        near_object=(tcp_to_obj <= 0.03).astype(jnp.float32),
        grasp_success=(touching & (tcp_opened > 0) & (obj[2] - 0.02 > obj_init[2])).astype(jnp.float32),
        grasp_reward=grasped,
        in_place_reward=part2,
        obj_to_target=obj_to_target,
        unscaled_reward=reward,
    )
    return reward, info
