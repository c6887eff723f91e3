"""plate-slide-back-side-v3: pull the plate sideways (+x) out of the goal cabinet (metaworld
SawyerPlateSlideBackSideEnvV3 in sawyer_plate_slide_back_side_v3.py, reward v2).

Metaworld semantics kept here (builder: envs.skills.plate_slide): stock XML sawyer_plate_slide_sideway.xml;
the plate starts at qpos (-0.15, 0) (in the cabinet), obj_init_pos = rand_vec[:3] = (-0.25, 0.6, 0),
target = rand_vec[3:]; metaworld moves the cabinet body to obj_init_pos in the model (a per-instance model
override here); "back" reward form; success within 7 cm.

Scene: plate_slide_side.SIDE_SCENE, shared exactly with plate-slide-side-v3.
"""
from __future__ import annotations

from envs.skills.plate_slide import plate_skill
from envs.skills.plate_slide_side import SIDE_SCENE

SKILL = plate_skill("plate-slide-back-side-v3", SIDE_SCENE, (-0.05, 0.6, 0.015), (0.15, 0.6, 0.015), (-0.15, 0.0),
                    "obj", "back")
