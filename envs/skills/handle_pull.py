"""handle-pull-v3: pull a handle up on its slide joint (metaworld SawyerHandlePullEnvV3 in
sawyer_handle_pull_v3.py, reward v2).

Scene identical to handle-press-v3's (`handle_press.SCENE`); obj_init_pos stays rand_vec (the box position), as
metaworld keeps it.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.handle_press import SCENE, handle_skill

SKILL = handle_skill("handle-pull-v3", SCENE, "pull", (-0.1, 0.55, 0.04), (0.1, 0.70, 0.18))
