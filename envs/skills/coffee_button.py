"""coffee-button-v3: press the coffee machine's button (metaworld SawyerCoffeeButtonEnvV3, reward v2).

Also the scene shared by the three coffee skills (`SCENE`, sawyer_coffee.xml) and the mug placement they share.

The button cylinder becomes a box pressed by the left claw and HAND_BOX; a copy of the frame's bottom box holds the
left pad back, and a stiff stop sphere against a copy of the machine's top box ends the press. The mug stands on a
table plane, gripped through a vertical capsule. Elliptic cone (it does not soften the stock condim-3 pairs as a
pyramidal one does).
Fidelity figures: docs/fidelity.md.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from envs.sawyer import Skill
from envs.scene import Proxy, SceneConfig
from envs.skills.button_press import press_reward, button_evaluate
from envs.skills.common import (
    CLAW_CONTACT,
    HAND_BOX,
    MUJOCO_DEFAULT_CONTACT,
    OBJ_COL_CONTACT,
    PAD_CONTACT,
    PAD_MARGIN,
    PADS,
    TABLE,
    combined_pair,
    full_solimp,
)

HAND_INIT_POS = (0.0, 0.4, 0.2)
HAND_LOW = (-0.5, 0.40, 0.05)
HAND_HIGH = (0.5, 1.0, 0.5)
MAX_DIST = 0.03

_OBJ = full_solimp(OBJ_COL_CONTACT)  # class cm_col has the same contact parameters

#: The mug's collision cylinder (stock, unnamed, class cm_col) on the table plane.
MUG_BASE = Proxy("mug_base_proxy", "mug", "cylinder", (0.028, 0.033), pos=(0.0, 0.0, 0.035))
#: The mug as the finger pads see it (MJX has no cylinder-box): a vertical capsule, pad margin folded in.
MUG_GRIP = Proxy("mug_grip_proxy", "mug", "capsule", (0.028 + PAD_MARGIN, 0.01), pos=(0.0, 0.0, 0.035))
#: The button (stock cylinder r 0.032, half-length 0.03 along y) as its bounding box.
BUTTON = Proxy("cm_button_proxy", "cmbutton", "box", (0.032, 0.03, 0.032), pos=(0.0, -0.19, 0.3))
#: The frame's bottom box below the button (stock, unnamed).
FRAME_BOTTOM = Proxy("cm_frame_bottom_proxy", "cm_link", "box", (0.1, 0.05, 0.018), pos=(0.0, -0.133, 0.248))
#: Button stop: a sphere whose +y extreme is the button's back face (y = -0.16), against the machine's top body
#: box (stock, unnamed; front face y = -0.098): lands 6.2 cm into the press, as in metaworld.
BUTTON_STOP = Proxy("cm_button_stop_proxy", "cmbutton", "sphere", (0.01,), pos=(0.0, -0.17, 0.3))
BODY_TOP = Proxy("cm_body_top_proxy", "cm_link", "box", (0.1, 0.098, 0.07), pos=(0.0, 0.0, 0.3))


SCENE = SceneConfig(
    xml="sawyer_xyz/sawyer_coffee.xml",
    proxies=(TABLE, MUG_BASE, MUG_GRIP, BUTTON, FRAME_BOTTOM, BUTTON_STOP, BODY_TOP, HAND_BOX),
    pairs=(
        combined_pair(MUG_BASE.name, _OBJ, TABLE.name, MUJOCO_DEFAULT_CONTACT),
        *(
            dataclasses.replace(combined_pair(p, full_solimp(PAD_CONTACT), MUG_GRIP.name, _OBJ), margin=0.0)
            for p in PADS
        ),
        combined_pair("leftclaw_it", full_solimp(CLAW_CONTACT), BUTTON.name, _OBJ),
        combined_pair(HAND_BOX.name, MUJOCO_DEFAULT_CONTACT, BUTTON.name, _OBJ),
        combined_pair("leftpad_geom", full_solimp(PAD_CONTACT), FRAME_BOTTOM.name, _OBJ),
        dataclasses.replace(
            combined_pair(BUTTON_STOP.name, _OBJ, BODY_TOP.name, _OBJ), solimp=(0.999, 0.999, 0.01, 0.5, 2.0)
        ),
    ),
    cone="elliptic",
)


def place_mug(sim, data, pos):
    """metaworld's coffee `_set_obj_xyz`: the mug's free joint position = pos, and qvel[9:15] = 0 (sic)."""
    qa = int(sim.model.jnt_qposadr[sim.model.body_jntadr[sim.body("obj")]])
    return data.replace(qpos=data.qpos.at[qa : qa + 3].set(pos), qvel=data.qvel.at[sim.dof_index(9, 15)].set(0.0))


def machine_at(sim, pos):
    return sim.mx.body_pos.at[sim.body("coffee_machine")].set(pos.astype(sim.mx.body_pos.dtype))


def reset(sim, data, rand_vec):
    data = place_mug(sim, data, rand_vec + jnp.array([0.0, -0.22, 0.0]))
    task = {
        "target_pos": rand_vec + jnp.array([0.0, -0.22 + MAX_DIST, 0.3]),
        "obj_init_pos": rand_vec,
        "obj_to_target_init": jnp.asarray(MAX_DIST, jnp.float32),
        "model": {"body_pos": machine_at(sim, rand_vec)},
    }
    return data, task


def objects(sim, data, task):
    return sim.site_xpos(data, "buttonStart"), jnp.array([1.0, 0.0, 0.0, 0.0])


SKILL = Skill(
    name="coffee-button-v3",
    scene=SCENE,
    hand_init_pos=HAND_INIT_POS,
    goal_low=(-0.101, 0.61, 0.298),
    goal_high=(0.101, 0.71, 0.302),
    reset=reset,
    objects=objects,
    evaluate=button_evaluate(1, 0.02, 0.05, press_reward),
)
