"""handle-pull-side-v3: pull up a handle that points sideways (-x) (metaworld SawyerHandlePullSideEnvV3 in
sawyer_handle_pull_side_v3.py, reward v2).

Metaworld semantics kept here (builder and rewards: envs.skills.handle_press): stock XML
sawyer_handle_press_sideways.xml; the handle starts at the bottom of its range (qpos -0.1); target = the box's
"goalPull" site; observed object "handleCenter"; obj_init_pos = handleCenter's reset position; in_place on the
3-d distance; caging radius 3.2 cm, pad threshold 6 cm; success within 8 cm; goal bounds = hand bounds.

Scene: handle_press_side.SIDE_SCENE (handle_press.handle_scene of the sideways XML: grip as a capsule).
handle-press-side-v3 has its own scene of the same XML (grip as a box, see handle_press_side).
"""
from __future__ import annotations

from envs.skills.handle_press import HAND_HIGH, HAND_LOW, handle_skill
from envs.skills.handle_press_side import SIDE_SCENE

SKILL = handle_skill("handle-pull-side-v3", SIDE_SCENE, "pull-side", HAND_LOW, HAND_HIGH)
