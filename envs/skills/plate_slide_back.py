"""plate-slide-back-v3: pull the plate out of the goal cabinet back to y = 0.6 (metaworld
SawyerPlateSlideBackEnvV3 in sawyer_plate_slide_back_v3.py, reward v2).

Scene identical to plate-slide-v3's (`plate_slide.SCENE`); obj_init_pos stays metaworld's rand_vec[:3], not the
plate's real start.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.plate_slide import SCENE, plate_skill

SKILL = plate_skill("plate-slide-back-v3", SCENE, (-0.1, 0.6, 0.015), (0.1, 0.6, 0.015), (0.0, 0.15), None, "back")
