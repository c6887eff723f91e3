"""handle-pull-side-v3: pull up a handle that points sideways (-x) (metaworld SawyerHandlePullSideEnvV3 in
sawyer_handle_pull_side_v3.py, reward v2).

Scene `handle_press_side.SIDE_SCENE`: handle_press.handle_scene of the sideways XML (lever box proxy, grip cylinder
as a capsule); handle-press-side-v3 has its own scene with the grip as a box.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.handle_press import HAND_HIGH, HAND_LOW, handle_skill
from envs.skills.handle_press_side import SIDE_SCENE

SKILL = handle_skill("handle-pull-side-v3", SIDE_SCENE, "pull-side", HAND_LOW, HAND_HIGH)
