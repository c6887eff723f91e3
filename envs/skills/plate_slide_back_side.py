"""plate-slide-back-side-v3: pull the plate sideways (+x) out of the goal cabinet (metaworld
SawyerPlateSlideBackSideEnvV3 in sawyer_plate_slide_back_side_v3.py, reward v2).

Scene `plate_slide_side.SIDE_SCENE`, shared exactly with plate-slide-side-v3; the cabinet body is moved per task as
a per-instance model override.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.plate_slide import plate_skill
from envs.skills.plate_slide_side import SIDE_SCENE

SKILL = plate_skill(
    "plate-slide-back-side-v3", SIDE_SCENE, (-0.05, 0.6, 0.015), (0.15, 0.6, 0.015), (-0.15, 0.0), "obj", "back"
)
