"""handle-press-side-v3: press down a handle that points sideways (-x) (metaworld SawyerHandlePressSideEnvV3 in
sawyer_handle_press_side_v3.py, reward v2).

Metaworld semantics kept here (builder, reward and proxies: envs.skills.handle_press): stock XML
sawyer_handle_press_sideways.xml (the handle box turned 90 degrees about z); reset, observed object
("handleStart"), reward and success (within 2 cm in z) are handle-press-v3's; the goal bounds (observation
clip) are the hand bounds, as metaworld sets them.

Scene: `SIDE_SCENE` (handle_press.handle_scene of the sideways XML: lever box and grip capsule proxies
against the pads and claws, elliptic cone), shared exactly with handle-pull-side-v3.
"""
from __future__ import annotations

from envs.skills.handle_press import HAND_HIGH, HAND_LOW, handle_scene, handle_skill

SIDE_SCENE = handle_scene("sawyer_xyz/sawyer_handle_press_sideways.xml")

SKILL = handle_skill("handle-press-side-v3", SIDE_SCENE, "press", HAND_LOW, HAND_HIGH)
