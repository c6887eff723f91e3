"""plate-slide-side-v3: push the plate sideways (-x) into a goal cabinet turned 90 degrees (metaworld
SawyerPlateSlideSideEnvV3 in sawyer_plate_slide_side_v3.py, reward v2).

`SIDE_SCENE` (shared exactly with plate-slide-back-side-v3): plate-slide's scene of sawyer_plate_slide_sideway.xml
plus claw-table pairs, since the closed gripper grazes the table here. Pyramidal cone, 4/8 iterations.
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

from envs.skills.plate_slide import plate_scene, plate_skill

SIDE_SCENE = plate_scene("sawyer_xyz/sawyer_plate_slide_sideway.xml", claws_table=True)

SKILL = plate_skill("plate-slide-side-v3", SIDE_SCENE, (-0.3, 0.54, 0.0), (-0.25, 0.66, 0.0), (0.0, 0.0), None, "back")
