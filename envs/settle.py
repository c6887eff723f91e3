"""The per-skill reset state, computed once by metaworld itself.

Every metaworld reset runs `mj_resetData` and then a deterministic 50-step hand settle (mocap held at
`hand_init_pos`, gripper ctrl (-1, 1)) before the skill places its objects. Neither depends on the task,
so we run metaworld's own env once per skill, read the settled physics state and the constants
metaworld derives from it (`init_tcp`, pad positions), and start every MJX reset from there. This is
exact (it is metaworld's state), and saves 250 physics steps per reset.
"""
from __future__ import annotations

import functools
import pickle

import numpy as np


@functools.lru_cache(maxsize=None)
def settled_state(skill: str) -> dict[str, np.ndarray]:
    """Settled physics state and reset constants of metaworld's `skill` env (numpy, float64).

    Keys: qpos, qvel, mocap_pos, mocap_quat, ctrl, qacc_warmstart (after the hand settle, before
    objects are placed), init_tcp, init_left_pad, init_right_pad (metaworld's values right after
    its construction), settled_left_pad, settled_right_pad (pad COMs after the settle), reset_arm_frame
    (stale hand pos + gripper opening right after the settle), rand_vec_size.
    """
    import metaworld  # noqa: F401  (heavy; imported lazily)
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    if skill not in ALL_V3_ENVIRONMENTS:
        raise ValueError(f"unknown skill {skill!r}; valid: {sorted(ALL_V3_ENVIRONMENTS)}")
    env = ALL_V3_ENVIRONMENTS[skill]()
    init_left_pad = np.array(env.init_left_pad, dtype=np.float64)
    init_right_pad = np.array(env.init_right_pad, dtype=np.float64)
    # Any task of the skill works: the settle does not depend on it. Take metaworld's own sampler.
    env._last_rand_vec = None
    env._freeze_rand_vec = False
    env._set_task_called = True
    rand_vec_size = int(env._random_reset_space.low.size)

    captured: dict[str, np.ndarray] = {}
    original = env._reset_hand

    def capture(*args, **kwargs):
        original(*args, **kwargs)
        d = env.data
        captured.update(
            qpos=d.qpos.copy(),
            qvel=d.qvel.copy(),
            mocap_pos=d.mocap_pos.copy(),
            mocap_quat=d.mocap_quat.copy(),
            ctrl=d.ctrl.copy(),
            qacc_warmstart=d.qacc_warmstart.copy(),
            init_tcp=np.array(env.tcp_center, dtype=np.float64),
            settled_left_pad=np.array(env.get_body_com("leftpad"), dtype=np.float64),
            settled_right_pad=np.array(env.get_body_com("rightpad"), dtype=np.float64),
            # The arm part (hand pos, gripper opening) of metaworld's frame read right after the settle,
            # WITHOUT a forward pass: MuJoCo's kinematics then date from the start of the last substep.
            # It is the reset observation of skills whose reset_model never calls set_state/mj_forward
            # (see Skill.stale_reset_arm).
            reset_arm_frame=np.array(
                [*d.body("hand").xpos,
                 np.clip(np.linalg.norm(d.body("rightclaw").xpos - d.body("leftclaw").xpos) / 0.1, 0.0, 1.0)],
                dtype=np.float64,
            ),
        )

    env._reset_hand = capture
    env.reset()
    env.close()
    if not captured:
        raise RuntimeError(f"{skill}: metaworld's reset did not run the hand settle")
    captured.update(
        init_left_pad=init_left_pad,
        init_right_pad=init_right_pad,
        rand_vec_size=np.array(rand_vec_size),
    )
    return captured
