"""Registry of ported skills: skill name -> module path holding a `SKILL` (envs.sawyer.Skill)."""

from __future__ import annotations

import importlib

_MODULES = {
    "reach-v3": "envs.skills.reach",
    "drawer-open-v3": "envs.skills.drawer_open",
    "drawer-close-v3": "envs.skills.drawer_close",
    "door-open-v3": "envs.skills.door_open",
    "push-v3": "envs.skills.push",
    "pick-place-v3": "envs.skills.pick_place",
    "button-press-topdown-v3": "envs.skills.button_press_topdown",
    "window-open-v3": "envs.skills.window_open",
    "window-close-v3": "envs.skills.window_close",
    "door-close-v3": "envs.skills.door_close",
    "lever-pull-v3": "envs.skills.lever_pull",
    "sweep-into-v3": "envs.skills.sweep_into",
    "sweep-v3": "envs.skills.sweep",
    "peg-insert-side-v3": "envs.skills.peg_insert_side",
    "shelf-place-v3": "envs.skills.shelf_place",
    "basketball-v3": "envs.skills.basketball",
    "reach-wall-v3": "envs.skills.reach_wall",
    "push-wall-v3": "envs.skills.push_wall",
    "pick-place-wall-v3": "envs.skills.pick_place_wall",
    "plate-slide-v3": "envs.skills.plate_slide",
    "plate-slide-back-v3": "envs.skills.plate_slide_back",
    "plate-slide-side-v3": "envs.skills.plate_slide_side",
    "plate-slide-back-side-v3": "envs.skills.plate_slide_back_side",
    "button-press-v3": "envs.skills.button_press",
    "button-press-wall-v3": "envs.skills.button_press_wall",
    "button-press-topdown-wall-v3": "envs.skills.button_press_topdown_wall",
    "coffee-button-v3": "envs.skills.coffee_button",
    "handle-pull-side-v3": "envs.skills.handle_pull_side",
    "handle-press-side-v3": "envs.skills.handle_press_side",
    "push-back-v3": "envs.skills.push_back",
    "handle-press-v3": "envs.skills.handle_press",
    "handle-pull-v3": "envs.skills.handle_pull",
    "dial-turn-v3": "envs.skills.dial_turn",
    "coffee-push-v3": "envs.skills.coffee_push",
    "hand-insert-v3": "envs.skills.hand_insert",
    "pick-out-of-hole-v3": "envs.skills.pick_out_of_hole",
    "coffee-pull-v3": "envs.skills.coffee_pull",
    "faucet-open-v3": "envs.skills.faucet_open",
    "faucet-close-v3": "envs.skills.faucet_close",
    "door-lock-v3": "envs.skills.door_lock",
    "door-unlock-v3": "envs.skills.door_unlock",
    "hammer-v3": "envs.skills.hammer",
    "assembly-v3": "envs.skills.assembly",
    "disassemble-v3": "envs.skills.disassemble",
    "stick-push-v3": "envs.skills.stick_push",
    "stick-pull-v3": "envs.skills.stick_pull",
    "soccer-v3": "envs.skills.soccer",
    "bin-picking-v3": "envs.skills.bin_picking",
    "box-close-v3": "envs.skills.box_close",
    "peg-unplug-side-v3": "envs.skills.peg_unplug_side",
}


#: Ported but not registered: modules that build but fail a fidelity check (tests/envs/test_fidelity.py), with
#: the failing check named here and in docs/fidelity.md. get_skill then raises naming the module. Empty: all
#: 50 Meta-World skills pass.
UNVERIFIED: dict[str, str] = {}


def ported_skills() -> tuple[str, ...]:
    """The skills with an MJX port (sorted names, e.g. "reach-v3"); importing builds nothing."""
    return tuple(sorted(_MODULES))


def get_skill(name: str):
    if name not in _MODULES:
        from envs.benchmarks import ALL_SKILLS

        if name in UNVERIFIED:
            raise NotImplementedError(
                f"skill {name!r} has an MJX module ({UNVERIFIED[name]}) that does not pass the metaworld fidelity "
                f"checks yet (see envs/skills/__init__.py); ported: {list(ported_skills())}"
            )
        if name in ALL_SKILLS:
            raise NotImplementedError(
                f"skill {name!r} is a Meta-World skill but is not ported to MJX yet; ported: {list(ported_skills())}"
            )
        raise ValueError(f"unknown skill {name!r}; valid Meta-World skills: {sorted(ALL_SKILLS)}")
    return importlib.import_module(_MODULES[name]).SKILL
