"""handle-pull-v3: pull a handle up on its slide joint (metaworld SawyerHandlePullEnvV3 in
sawyer_handle_pull_v3.py, reward v2).

Metaworld semantics kept here (builder, rewards and scene: envs.skills.handle_press): the handle starts at
the bottom of its range (qpos -0.1); target = the box's "goalPull" site; observed object "handleRight";
obj_init_pos stays rand_vec (the box position) for the caging reward and the in_place margin; success when
the handle's z is within 5 cm of the target's.

Scene: identical to handle-press-v3's (handle_press.SCENE: same stock XML, proxies, pairs and solver).
"""
from __future__ import annotations

from envs.skills.handle_press import SCENE, handle_skill

SKILL = handle_skill("handle-pull-v3", SCENE, "pull", (-0.1, 0.55, 0.04), (0.1, 0.70, 0.18))
