"""faucet-close-v3: turn the faucet handle to the left (metaworld SawyerFaucetCloseEnvV3, reward v2).

Metaworld semantics and scene: those of faucet-open-v3 (envs.skills.faucet_open.faucet_skill, same scene), with
the goal on the left (rand_vec + (-0.175, 0, 0.125)), the "handleStartClose" site observed and used in the reward
as is, and an mj_forward in reset (fresh reset kinematics).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.faucet_open import faucet_skill

SKILL = faucet_skill("faucet-close-v3", -1.0, "handleStartClose", "goal_close", (0.0, 0.0, 0.0), False)
