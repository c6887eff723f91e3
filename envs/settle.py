"""The per-skill reset state, computed once by metaworld itself.

Every metaworld reset runs `mj_resetData` and then a deterministic 50-step hand settle (mocap held at
`hand_init_pos`, gripper ctrl (-1, 1)) before the skill places its objects. Neither depends on the task,
so we run metaworld's own env once per skill, read the settled physics state and the constants
metaworld derives from it (`init_tcp`, pad positions), and start every MJX reset from there. This is
exact (it is metaworld's state), and saves 250 physics steps per reset.
"""

from __future__ import annotations

import functools

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
    # Any task of the skill works: the settle does not depend on it (skills where it does set
    # Skill.settle_body and take theirs per task: task_settled_states). metaworld's own sampler, seeded (its
    # unseeded one draws from numpy's global RNG): deterministic, and valid (reset_model may resample).
    env._last_rand_vec = None
    env._freeze_rand_vec = False
    env.seeded_rand_vec = True
    env.seed(0)
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
                [
                    *d.body("hand").xpos,
                    np.clip(np.linalg.norm(d.body("rightclaw").xpos - d.body("leftclaw").xpos) / 0.1, 0.0, 1.0),
                ],
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


#: Fields of a per-task settle table (besides rand_vec): the physics state after metaworld's settle and
#: the tcp metaworld reads right after it (init_tcp).
TASK_SETTLE_FIELDS = ("qpos", "qvel", "qacc_warmstart", "mocap_pos", "mocap_quat", "ctrl", "init_tcp")
#: Fields of the optional "placed_" rows (task_settled_states(placed=True)): the physics state when reset_model
#: places its object (`_set_obj_xyz`), for skills that step the physics between the settle and the placement.
TASK_PLACED_FIELDS = TASK_SETTLE_FIELDS[:-1]


def task_settled_states(skill: str, rand_vecs, placed: bool = False) -> dict[str, np.ndarray]:
    """metaworld's own settled reset state for each task in `rand_vecs` ((n, k) array), for skills whose hand
    settle depends on the task (envs.skills.task_settle: the objects already stand at the task's placement
    during the settle, and the arm may brush them). Each task is reset once by metaworld's env (~10 ms).

    Returns {"rand_vec": (n, k) float32 (the keys the MJX reset matches exactly), and per TASK_SETTLE_FIELDS
    an (n, ...) float64 array}. placed: also "placed_<field>" for each of TASK_PLACED_FIELDS: the state when
    reset_model first calls `_set_obj_xyz` after that settle (Skill.settle_table_placed: box-close's reset_model
    steps the physics between its settle and the placement)."""
    import metaworld
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    if skill not in ALL_V3_ENVIRONMENTS:
        raise ValueError(f"unknown skill {skill!r}; valid: {sorted(ALL_V3_ENVIRONMENTS)}")
    rand_vecs = np.asarray(rand_vecs, dtype=np.float64)
    env = ALL_V3_ENVIRONMENTS[skill]()
    size = int(env._random_reset_space.low.size)
    if rand_vecs.ndim != 2 or rand_vecs.shape[1] != size or len(rand_vecs) == 0:
        env.close()
        raise ValueError(f"{skill}: rand_vecs must have shape (n >= 1, {size}), got {rand_vecs.shape}")
    captured: dict[str, np.ndarray] = {}
    original = env._reset_hand

    def capture(*args, **kwargs):
        original(*args, **kwargs)
        d = env.data
        captured.clear()  # a placement recorded after an earlier settle of this reset does not count
        captured.update({k: getattr(d, k).copy() for k in TASK_SETTLE_FIELDS[:-1]})
        captured["init_tcp"] = np.array(env.tcp_center, dtype=np.float64)

    env._reset_hand = capture
    keys = TASK_SETTLE_FIELDS
    if placed:
        original_place = env._set_obj_xyz

        def capture_place(*args, **kwargs):
            if captured and "placed_qpos" not in captured:
                captured.update({"placed_" + k: getattr(env.data, k).copy() for k in TASK_PLACED_FIELDS})
            return original_place(*args, **kwargs)

        env._set_obj_xyz = capture_place
        keys = keys + tuple("placed_" + k for k in TASK_PLACED_FIELDS)
    rows: dict[str, list] = {k: [] for k in keys}
    cls = ALL_V3_ENVIRONMENTS[skill]
    for rv in rand_vecs:
        # metaworld's own task encoding (as its benchmarks and envs.reference set a task)
        env.set_task(metaworld._encode_task(skill, dict(rand_vec=rv.copy(), env_cls=cls, partially_observable=False)))
        captured.clear()
        env.reset()  # the last settle (after mj_resetData) is the one the episode starts from
        missing = [k for k in keys if k not in captured]
        if missing:
            env.close()
            raise RuntimeError(f"{skill}: metaworld's reset did not record {missing} (placed={placed})")
        for k in keys:
            rows[k].append(captured[k])
    env.close()
    out = {k: np.stack(v) for k, v in rows.items()}
    out["rand_vec"] = rand_vecs.astype(np.float32)
    return out
