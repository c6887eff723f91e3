"""coffee-pull-v3: pull the mug out from under the coffee machine's spout (metaworld SawyerCoffeePullEnvV3,
reward v2).

Metaworld semantics and scene: those of coffee-push-v3 (envs.skills.coffee_push.mug_skill, same reward, same
coffee scene), with the machine placed from the mug's START (start + (0, 0.22, 0)) and the pull task ranges.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.coffee_push import mug_skill

SKILL = mug_skill("coffee-pull-v3", False, (-0.1, 0.55, -0.001), (0.1, 0.65, 0.001))
