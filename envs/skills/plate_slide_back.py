"""plate-slide-back-v3: pull the plate out of the goal cabinet back to y = 0.6 (metaworld
SawyerPlateSlideBackEnvV3 in sawyer_plate_slide_back_v3.py, reward v2).

Metaworld semantics kept here (builder and scene: envs.skills.plate_slide): the plate starts at qpos
(0, 0.15) (in the cabinet at y = 0.75), obj_init_pos = rand_vec[:3] = (0, 0.85, 0) as metaworld keeps it
(not the plate's real start), target = rand_vec[3:]; the cabinet body stays at its stock pose (metaworld
only writes data xpos, overwritten by the next forward pass); "back" reward form; success within 7 cm.

Scene: identical to plate-slide-v3's (plate_slide.SCENE: same stock XML, proxies, pairs and solver).
"""
from __future__ import annotations

from envs.skills.plate_slide import SCENE, plate_skill

SKILL = plate_skill("plate-slide-back-v3", SCENE, (-0.1, 0.6, 0.015), (0.1, 0.6, 0.015), (0.0, 0.15), None, "back")
