"""handle-press-side-v3: press down a handle that points sideways (-x) (metaworld SawyerHandlePressSideEnvV3 in
sawyer_handle_press_side_v3.py, reward v2).

Metaworld semantics kept here (builder, reward and lever proxy: envs.skills.handle_press): stock XML
sawyer_handle_press_sideways.xml (the handle box turned 90 degrees about z); reset, observed object
("handleStart"), reward and success (within 2 cm in z) are handle-press-v3's; the goal bounds (observation
clip) are the hand bounds, as metaworld sets them.

Scene: `PRESS_SIDE_SCENE`, its own (handle-pull-side-v3 keeps `SIDE_SCENE`, handle_press.handle_scene of the
same XML with the grip as a capsule): the lever box proxy as in handle_press, the grip cylinder (r 2.2 cm,
half-length 7 cm, along world y here) as a box of the cylinder's bounding size (`GRIP_BOX`, stock 1 mm finger
margin kept on the pairs), elliptic cone. Why: pressing down, metaworld's closed pads and claws sink ~30 mm
into the grip (the soft hdlprs_col contact) until their bottom passes below the grip's axis, and MuJoCo's
convex cylinder-box collider then pushes them out across the grip (+x: the pads slide off its side and push
the handle down from there; task 0: hand x +14 mm). MJX has no cylinder-box collider. Its capsule-box collider
(the capsule proxy of SIDE_SCENE) picks the exit face from the box's face normals only, tested at the
capsule's ends 7 cm away, so the pads' ~1 degree tilt adds ~1-2 mm to the sideways exit and the pads never
cross (MJX drift: hand 39 mm). MJX's box-box collider tests both boxes' face normals (SAT): the box proxy's
+x face gives the same sideways exit distance as the cylinder once the pads are below its axis.
Contact stiffness: MuJoCo's cylinder-box gives one contact per pad / claw, MJX's box-box face contact four
(the pad face's corners), so each grip pair is given 4x the stock regularization R (`single_contact_pairs`:
impedance d -> d / (4 - 3 d), time constant scaled to keep stiffness K and damping B), which makes the four
contacts together as stiff as the stock single one: the pads sink as deep as metaworld's and cross when its
do. Measured (expert actions, 50 steps, hand / handle drift in mm, MJX on tasks 0-3): R x1 (stock) 39.4 /
26.5, 5.7 / 1.7, 1.6 / 6.8, 39.1 / 32.1; R x4 13.3 / 1.8, 3.3 / 8.4, 3.5 / 6.8, 9.6 / 3.1.
"""
from __future__ import annotations

from envs.scene import Proxy, SceneConfig
from envs.skills.common import BOX_FACE_CONTACTS, OBJ_COL_CONTACT, euler_quat, gripper_pairs, single_contact_pairs
from envs.skills.handle_press import FINGERS, HAND_HIGH, HAND_LOW, LEVER, handle_scene, handle_skill

SIDE_SCENE = handle_scene("sawyer_xyz/sawyer_handle_press_sideways.xml")

#: The grip cylinder (stock: r 0.022, half-length 0.07, euler 0 1.57 0 on handle_link) as its bounding box.
GRIP_BOX = Proxy("handle_grip_box_proxy", "handle_link", "box", (0.022, 0.022, 0.07), pos=(0.0, -0.166, 0.0),
                 quat=euler_quat(0.0, 1.57, 0.0))

PRESS_SIDE_SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_handle_press_sideways.xml",
    proxies=(LEVER, GRIP_BOX),
    pairs=gripper_pairs(LEVER.name, OBJ_COL_CONTACT, FINGERS)
    + single_contact_pairs(gripper_pairs(GRIP_BOX.name, OBJ_COL_CONTACT, FINGERS), BOX_FACE_CONTACTS),
    iterations=4,
    ls_iterations=8,
    cone="elliptic",
)

SKILL = handle_skill("handle-press-side-v3", PRESS_SIDE_SCENE, "press", HAND_LOW, HAND_HIGH)
