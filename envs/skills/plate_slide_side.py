"""plate-slide-side-v3: push the plate sideways (-x) into a goal cabinet turned 90 degrees (metaworld
SawyerPlateSlideSideEnvV3 in sawyer_plate_slide_side_v3.py, reward v2).

Metaworld semantics kept here (builder: envs.skills.plate_slide): stock XML sawyer_plate_slide_sideway.xml;
the plate starts at qpos (0, 0), obj_init_pos = rand_vec[:3], target = rand_vec[3:]; the cabinet body stays
at its stock pose (metaworld writes only data xpos, overwritten by the next forward pass); "back" reward
form (margins minus the target radius, low-tcp branch); success within 7 cm.

Scene: `SIDE_SCENE` (plate box on the table plane, pads and claws against the plate box, claws against the
table), shared exactly with plate-slide-back-side-v3. The expert closes the gripper here and metaworld's
pads / claws graze the table on ~2% of steps (20-task survey); measured with CPU MuJoCo on this scene, task 0,
50 steps: without claw-table pairs hand / plate drift 7.4 / 7.5 mm, with them 2.7 / 3.0 mm (pads-table
too: 2.2 / 2.4 mm, not worth 2 more box-plane pairs).
"""
from __future__ import annotations

from envs.skills.plate_slide import plate_scene, plate_skill

SIDE_SCENE = plate_scene("sawyer_xyz/sawyer_plate_slide_sideway.xml", claws_table=True)

SKILL = plate_skill("plate-slide-side-v3", SIDE_SCENE, (-0.3, 0.54, 0.0), (-0.25, 0.66, 0.0), (0.0, 0.0), None,
                    "back")
