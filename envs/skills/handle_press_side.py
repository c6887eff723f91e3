"""handle-press-side-v3: press down a handle that points sideways (-x) (metaworld SawyerHandlePressSideEnvV3 in
sawyer_handle_press_side_v3.py, reward v2).

Own scene `PRESS_SIDE_SCENE`: the grip cylinder becomes a box of its bounding size (`GRIP_BOX`), so that the
pressing pads slide off its side as they do off MuJoCo's cylinder; its pairs carry 4x the stock regularization,
which makes MJX's four box-box contacts as stiff as the stock single one. Elliptic cone.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.scene import Proxy, SceneConfig
from envs.skills.common import BOX_FACE_CONTACTS, OBJ_COL_CONTACT, euler_quat, gripper_pairs, single_contact_pairs
from envs.skills.handle_press import FINGERS, HAND_HIGH, HAND_LOW, LEVER, handle_scene, handle_skill

SIDE_SCENE = handle_scene("sawyer_xyz/sawyer_handle_press_sideways.xml")

#: The grip cylinder (stock: r 0.022, half-length 0.07, euler 0 1.57 0 on handle_link) as its bounding box.
GRIP_BOX = Proxy(
    "handle_grip_box_proxy",
    "handle_link",
    "box",
    (0.022, 0.022, 0.07),
    pos=(0.0, -0.166, 0.0),
    quat=euler_quat(0.0, 1.57, 0.0),
)

PRESS_SIDE_SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_handle_press_sideways.xml",
    proxies=(LEVER, GRIP_BOX),
    pairs=gripper_pairs(LEVER.name, OBJ_COL_CONTACT, FINGERS)
    + single_contact_pairs(gripper_pairs(GRIP_BOX.name, OBJ_COL_CONTACT, FINGERS), BOX_FACE_CONTACTS),
    cone="elliptic",
)

SKILL = handle_skill("handle-press-side-v3", PRESS_SIDE_SCENE, "press", HAND_LOW, HAND_HIGH)
