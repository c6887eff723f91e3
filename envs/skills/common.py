"""Pieces shared by several skills: standard collision proxies and the gripper caging reward."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from envs import reward_utils
from envs.scene import Pair, Proxy

#: Table top as a plane at z = 0 (stock: a 0.7 x 0.4 x 0.46 box whose top is at z = 0).
TABLE = Proxy("table_proxy", "world", "plane", (0.0, 0.0, 0.01), pos=(0.0, 0.6, 0.0))
#: Finger pads and claws are stock boxes; the hand's collision mesh becomes a capsule.
HAND = Proxy("hand_proxy", "right_hand", "capsule", (0.035, 0.014), pos=(0.0, 0.0, 0.015), like="rightpad_geom")
PADS = ("leftpad_geom", "rightpad_geom")
CLAWS = ("leftclaw_it", "rightclaw_it")


def pairs_with(geom: str, others) -> tuple[Pair, ...]:
    return tuple(Pair(geom, o) for o in others)


def gripper_caging_reward(
    sim,
    data,
    task,
    action,
    obj_pos,
    obj_radius: float,
    pad_success_thresh: float,
    object_reach_radius: float,
    xz_thresh: float,
    desired_gripper_effort: float = 1.0,
    high_density: bool = False,
    medium_density: bool = False,
):
    """`SawyerXYZEnv._gripper_caging_reward` in jnp. Needs task["obj_init_pos"] and sim.consts["init_tcp"]
    (or task["init_tcp"] when the skill recomputes it at reset)."""
    if high_density and medium_density:
        raise ValueError("Can only be either high_density or medium_density")
    obj_init = task["obj_init_pos"]
    init_tcp = task.get("init_tcp", jnp.asarray(sim.consts["init_tcp"], jnp.float32))
    left_pad = sim.body_com(data, "leftpad")
    right_pad = sim.body_com(data, "rightpad")
    pad_y_lr = jnp.stack([left_pad[1], right_pad[1]])
    pad_to_obj_lr = jnp.abs(pad_y_lr - obj_pos[1])
    pad_to_objinit_lr = jnp.abs(pad_y_lr - obj_init[1])
    caging_lr_margin = jnp.abs(pad_to_objinit_lr - pad_success_thresh)
    caging_lr = reward_utils.tolerance(
        pad_to_obj_lr, bounds=(obj_radius, pad_success_thresh), margin=caging_lr_margin, sigmoid="long_tail"
    )
    caging_y = reward_utils.hamacher_product(caging_lr[0], caging_lr[1])

    tcp = sim.tcp_center(data)
    xz = jnp.array([0, 2])
    caging_xz_margin = jnp.linalg.norm(obj_init[xz] - init_tcp[xz]) - xz_thresh
    caging_xz = reward_utils.tolerance(
        jnp.linalg.norm(tcp[xz] - obj_pos[xz]), bounds=(0.0, xz_thresh), margin=caging_xz_margin, sigmoid="long_tail"
    )
    gripper_closed = jnp.minimum(jnp.maximum(0.0, action[-1]), desired_gripper_effort) / desired_gripper_effort
    caging = reward_utils.hamacher_product(caging_y, caging_xz)
    gripping = jnp.where(caging > 0.97, gripper_closed, 0.0)
    caging_and_gripping = reward_utils.hamacher_product(caging, gripping)
    if high_density:
        caging_and_gripping = (caging_and_gripping + caging) / 2
    if medium_density:
        tcp_to_obj = jnp.linalg.norm(obj_pos - tcp)
        tcp_to_obj_init = jnp.linalg.norm(obj_init - init_tcp)
        reach_margin = jnp.abs(tcp_to_obj_init - object_reach_radius)
        reach = reward_utils.tolerance(
            tcp_to_obj, bounds=(0.0, object_reach_radius), margin=reach_margin, sigmoid="long_tail"
        )
        caging_and_gripping = (caging_and_gripping + reach) / 2
    return caging_and_gripping


def set_free_joint_pos(sim, data, joint: str, pos):
    """metaworld `_set_obj_xyz` for a free joint: qpos[adr:adr+3] = pos, its 6 qvel = 0."""
    qa, da = sim.joint_qpos(joint), sim.joint_dof(joint)
    qpos = data.qpos.at[qa : qa + 3].set(pos)
    qvel = data.qvel.at[da : da + 6].set(0.0)
    return data.replace(qpos=qpos, qvel=qvel)


# --- explicit pairs with proxies that duplicate unnamed stock collision geoms ----------------------
# Stock object collision geoms (e.g. the drawer handle capsules, the door handle cylinders) are unnamed,
# so they are duplicated as mass-less proxies and paired explicitly. A proxy has MuJoCo's default contact
# parameters, so the pair's parameters are given explicitly: MuJoCo's combination (equal solmix: max
# condim, max friction, mean solref/solimp, max margin) of the stock geoms' own parameters below.

#: `leftpad_geom` / `rightpad_geom` (xyz_base.xml).
PAD_CONTACT = dict(
    condim=4, friction=(2.0, 0.1, 0.002), solref=(0.01, 1.0), solimp=(0.95, 0.99, 0.01, 0.5, 2.0), margin=0.001
)
#: `leftclaw_it` / `rightclaw_it` (class base_col).
CLAW_CONTACT = dict(
    condim=4, friction=(1.0, 0.005, 0.0001), solref=(0.02, 1.0), solimp=(0.8, 0.9, 0.01, 0.5, 2.0), margin=0.001
)
#: Object collision classes `drawer_col` (drawer.xml) and `dl_col` (doorlock*.xml): same values.
OBJ_COL_CONTACT = dict(
    condim=3, friction=(1.0, 0.005, 0.0001), solref=(0.01, 1.0), solimp=(0.99, 0.99, 0.01, 0.5, 2.0), margin=0.0
)
GEOM_CONTACT = {
    "leftpad_geom": PAD_CONTACT,
    "rightpad_geom": PAD_CONTACT,
    "leftclaw_it": CLAW_CONTACT,
    "rightclaw_it": CLAW_CONTACT,
}


def combined_pair(geom1: str, params1: dict, geom2: str, params2: dict) -> Pair:
    """An explicit pair with MuJoCo's automatic-collision parameters for two geoms of the given
    contact parameters (the rule of `envs.scene._combined`, for equal solmix)."""
    fr = [max(a, b) for a, b in zip(params1["friction"], params2["friction"])]
    return Pair(
        geom1,
        geom2,
        condim=max(params1["condim"], params2["condim"]),
        friction=(fr[0], fr[0], fr[1], fr[2], fr[2]),
        solref=tuple(0.5 * (a + b) for a, b in zip(params1["solref"], params2["solref"])),
        solimp=tuple(0.5 * (a + b) for a, b in zip(params1["solimp"], params2["solimp"])),
        margin=max(params1["margin"], params2["margin"]),
    )


#: Stock margin of the pads and claws (1 mm). MJX's capsule-box collider drops non-penetrating contacts,
#: so for capsule proxies this margin is folded into the capsule radius and the pair margin set to 0
#: (same constraint distance dist - margin as stock).
FINGER_MARGIN = 0.001


def gripper_pairs(proxy: str, proxy_params: dict, gripper_geoms, fold_margin: bool = False) -> tuple[Pair, ...]:
    """`combined_pair` of a proxy with each of the gripper geoms (pads / claws, see GEOM_CONTACT).
    fold_margin: pair margin 0 (the proxy's size must then include FINGER_MARGIN)."""
    pairs = tuple(combined_pair(proxy, proxy_params, g, GEOM_CONTACT[g]) for g in gripper_geoms)
    if fold_margin:
        pairs = tuple(dataclasses.replace(p, margin=0.0) for p in pairs)
    return pairs


#: Contacts MJX's box-box collider makes per pair (a face contact: the clipped face's corners), where MuJoCo's
#: convex colliders (box-mesh, cylinder-box) make one.
BOX_FACE_CONTACTS = 4


def single_contact_pairs(pairs: tuple[Pair, ...], n: int) -> tuple[Pair, ...]:
    """Pairs whose n contacts together act as one contact of the given parameters: each contact's
    regularization R = (1 - d) / d * invweight is multiplied by n (impedance d -> d / (n - (n - 1) d), for
    solimp's dmin and dmax), and the time constant is scaled by dmax / dmax' so that the reference
    acceleration's stiffness K = 1 / (dmax tc)^2 and damping B = 2 / (dmax tc) stay the stock ones.
    Every pair must have solimp and solref set (e.g. from `combined_pair`)."""
    if n < 1:
        raise ValueError(f"n (contacts per pair) must be >= 1, got {n}")
    out = []
    for p in pairs:
        if p.solimp is None or p.solref is None:
            raise ValueError(
                f"pair {p.geom1!r}-{p.geom2!r} needs explicit solimp and solref, got {p.solimp}, {p.solref}"
            )
        d0, d1 = p.solimp[:2]
        e0, e1 = d0 / (n - (n - 1) * d0), d1 / (n - (n - 1) * d1)
        out.append(
            dataclasses.replace(
                p, solimp=(e0, e1) + tuple(p.solimp[2:]), solref=(p.solref[0] * d1 / e1,) + tuple(p.solref[1:])
            )
        )
    return tuple(out)


def euler_quat(x: float, y: float, z: float) -> tuple[float, float, float, float]:
    """MuJoCo's default `euler` (intrinsic xyz, radians) as a (w, x, y, z) quaternion, so a proxy
    copies a stock geom's `euler=` orientation exactly."""
    import math

    def mul(a, b):
        return (
            a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
            a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
            a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
            a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
        )

    q = (1.0, 0.0, 0.0, 0.0)
    for i, ang in enumerate((x, y, z)):
        r = [math.cos(ang / 2), 0.0, 0.0, 0.0]
        r[1 + i] = math.sin(ang / 2)
        q = mul(q, tuple(r))
    return q


# --- puck skills (push-v3, pick-place-v3, ...): appended by the push/pick-place port -------------------
#: The puck (stock objGeom: cylinder r=0.02, half-height 0.02, axis z, on body "obj") as the finger pads
#: see it. MJX has no (cylinder, box) collision, so the pads grip a vertical capsule (side contacts are a
#: vertical segment, like a cylinder's; 2 contacts per pad). Its contact parameters are copied from objGeom.
#: The stock cylinder itself stays for the table (plane-cylinder, 3 contacts).
#: MJX's capsule-box collider only reports penetrating contacts (dist > 0 comes back as "no contact"), so
#: the stock pad margin (1 mm, within which MuJoCo already pushes) is folded into the radius instead:
#: radius 0.02 + 0.001 with pair margin 0 gives the same constraint distance (dist - margin) as stock.
PAD_MARGIN = 0.001
PUCK_PROXY = Proxy("obj_proxy", "obj", "capsule", (0.02 + PAD_MARGIN, 0.01), like="objGeom")


def puck_pairs(
    puck: str = "objGeom", proxy: str = "obj_proxy", pads_table: bool = False, claws_table: bool = False
) -> tuple[Pair, ...]:
    """Contact pairs of a puck skill: puck-table, pads-puck proxy, optionally pads/claws-table."""
    pairs = [Pair(puck, TABLE.name)]
    pairs += [Pair(p, proxy, margin=0.0) for p in PADS]
    if pads_table:
        pairs += [Pair(p, TABLE.name) for p in PADS]
    if claws_table:
        pairs += [Pair(c, TABLE.name) for c in CLAWS]
    return tuple(pairs)


def full_solimp(params: dict) -> dict:
    """Contact params with a 5-value solimp (an MjSpec pair takes all 5: MuJoCo's default midpoint 0.5 and
    power 2 fill in a 3-value one), for `combined_pair`."""
    solimp = tuple(params["solimp"])
    return dict(params, solimp=solimp + (0.5, 2.0)[len(solimp) - 3 :])


# --- hand mesh proxy (door-close, lever-pull, ...): appended by the ML10/TaCo port -------------------
#: The stock hand collision mesh (right_hand body, contype 1) spans x -0.024..0.042, y -0.053..0.053,
#: z 0.028..0.081 in the right_hand frame (z points down, towards the fingers). A capsule along y of
#: radius 0.03 centred on it covers that box to ~3 mm. Contact parameters: the mesh geom's own.
HAND_MESH_CONTACT = dict(
    condim=3, friction=(1.0, 0.005, 0.0001), solref=(0.02, 1.0), solimp=(0.9, 0.95, 0.001, 0.5, 2.0), margin=0.0
)
HAND_MESH = Proxy(
    "hand_mesh_proxy",
    "right_hand",
    "capsule",
    (0.03, 0.023),
    pos=(0.0085, 0.0, 0.0545),
    quat=(0.7071067811865476, 0.7071067811865476, 0.0, 0.0),
)
#: The same hand mesh as a box: its bounding box in the right_hand frame. Better than HAND_MESH where
#: objects touch the hand's flat side faces (e.g. a lever pushed up against its +y face).
HAND_BOX = Proxy("hand_box_proxy", "right_hand", "box", (0.033, 0.053, 0.0267), pos=(0.0085, 0.0, 0.0542))


def metaworld_init_pads(sim, data):
    """What metaworld's `self.init_left_pad` / `self.init_right_pad` hold when a reward reads them.

    Both are set with `self.get_body_com("leftpad")` (in SawyerXYZEnv.__init__, and again in some
    reset_model's, e.g. pick-place), and gymnasium's get_body_com returns `data.body(name).xpos`, a live
    VIEW into MjData: they are the pads' CURRENT frame positions at every step, not initial ones. Used by
    the caging rewards of pick-place, push-back, soccer, sweep, sweep-into-goal and by door-lock.
    """
    return sim.body_com(data, "leftpad"), sim.body_com(data, "rightpad")


def live_pad_caging_reward(
    sim,
    data,
    task,
    obj_pos,
    obj_radius: float,
    pad_success_margin: float = 0.05,
    x_z_success_margin: float = 0.01,
    grip_extra: float = 0.005,
):
    """The `_gripper_caging_reward` override of the block skills (sweep-into, sweep, shelf-place,
    basketball...: y caging + gripping by the pads, x-z caging of the tcp; returns (caging + gripping) / 2)
    with metaworld's aliasing: `init_left_pad` / `init_right_pad` are live views of data.xpos (gymnasium's
    get_body_com), i.e. the pads' CURRENT positions. Needs task["obj_init_pos"]; init_tcp from sim.consts."""
    grip_success_margin = obj_radius + grip_extra
    left_pad = sim.body_com(data, "leftpad")
    right_pad = sim.body_com(data, "rightpad")
    d_right = obj_pos[1] - right_pad[1]
    d_left = left_pad[1] - obj_pos[1]
    right_margin = jnp.abs(jnp.abs(obj_pos[1] - right_pad[1]) - pad_success_margin)
    left_margin = jnp.abs(jnp.abs(obj_pos[1] - left_pad[1]) - pad_success_margin)
    tol = reward_utils.tolerance
    right_caging = tol(d_right, bounds=(obj_radius, pad_success_margin), margin=right_margin, sigmoid="long_tail")
    left_caging = tol(d_left, bounds=(obj_radius, pad_success_margin), margin=left_margin, sigmoid="long_tail")
    right_gripping = tol(d_right, bounds=(obj_radius, grip_success_margin), margin=right_margin, sigmoid="long_tail")
    left_gripping = tol(d_left, bounds=(obj_radius, grip_success_margin), margin=left_margin, sigmoid="long_tail")
    y_caging = reward_utils.hamacher_product(right_caging, left_caging)
    y_gripping = reward_utils.hamacher_product(right_gripping, left_gripping)
    tcp = sim.tcp_center(data)
    xz = jnp.array([0, 2])
    init_tcp = jnp.asarray(sim.consts["init_tcp"], jnp.float32)
    obj_init = task["obj_init_pos"]
    x_z_margin = jnp.linalg.norm(obj_init[xz] - init_tcp[xz]) - x_z_success_margin
    x_z_caging = tol(
        jnp.linalg.norm(tcp[xz] - obj_pos[xz]), bounds=(0.0, x_z_success_margin), margin=x_z_margin, sigmoid="long_tail"
    )
    caging = reward_utils.hamacher_product(y_caging, x_z_caging)
    gripping = jnp.where(caging > 0.95, y_gripping, 0.0)
    return (caging + gripping) / 2.0


#: A 4 cm block (objGeom box, half-size 0.02) as the fingers see it: a vertical capsule (MJX box-box
#: collisions reserve 8 contacts per pair); radius 0.02 + the folded 1 mm pad margin.
BLOCK_PROXY = Proxy("block_proxy", "obj", "capsule", (0.02 + PAD_MARGIN, 0.01), like="objGeom")


#: MuJoCo's default geom contact parameters: those of the hand's collision mesh (`right_hand`
#: eGripperBase) and of the table's retaining walls (basic_scene.xml).
MUJOCO_DEFAULT_CONTACT = dict(
    condim=3, friction=(1.0, 0.005, 0.0001), solref=(0.02, 1.0), solimp=(0.9, 0.95, 0.001, 0.5, 2.0), margin=0.0
)
HAND_MESH_CONTACT = MUJOCO_DEFAULT_CONTACT
#: The flat finger-side face of the hand's collision mesh (eGripperBase spans x -0.024..0.042,
#: y -0.053..0.053, z 0.028..0.081 in the right_hand frame; z points towards the fingers) as a 2 cm thick
#: box: what a handle between the open fingers hits when the hand comes down on it.
PALM = Proxy("palm_proxy", "right_hand", "box", (0.033, 0.053, 0.01), pos=(0.0085, 0.0, 0.0709))
