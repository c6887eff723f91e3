"""Meta-World on MuJoCo XLA: pure, jit-able, vmap-able Sawyer manipulation envs.

env = envs.make("reach-v3")
bench = envs.benchmark("MT10", seed=0)
state = env.reset(key, bench.train_tasks["reach-v3"][0])
state = jax.jit(env.step)(state, action)
"""

from envs._runtime import configure_xla as _configure_xla
from envs._console import configure_console as _configure_console

_configure_xla()
_configure_console()

import dataclasses as _dataclasses  # noqa: E402
import functools as _functools  # noqa: E402


def make(
    skill: str,
    *,
    partially_observable: bool = False,
    max_path_length: int = 500,
    settle_tasks=None,
    family=None,
    **scene_options,
):
    """The MJX env of a Meta-World skill (e.g. "reach-v3").

    partially_observable: hide the goal (zeros), as metaworld's ML benchmarks do.
    max_path_length: steps until `truncated` (metaworld: 500).
    settle_tasks: optional (n, k) rand_vecs (e.g. a benchmark's task set) whose reset states metaworld computes
        once, here, for skills whose reset hand settle depends on the task (`Skill.settle_body`: the handle
        skills, door-lock / -unlock, disassemble, box-close); their resets of these tasks are then metaworld's,
        other tasks simulate the settle in MJX (approximate where the arm brushes the object). Ignored by
        the other skills. `envs.multitask.make_multitask` passes the benchmark's tasks.
    family: optional skills (including `skill`) whose shared scene template (`envs.family.template`) this
        env's scene is padded to, so their envs share one compiled physics graph in `make_multitask`; the
        dynamics stay the skill's own. None: the skill's own lean scene (`envs.family.padded_model`).
    scene_options: override solver settings of the skill's scene (iterations, ls_iterations, cone,
        solver), e.g. for accuracy/speed studies.
    Envs are cached: the same arguments return the same (hashable) Env, so jitted code is reused.
    """
    key = None
    if settle_tasks is not None:
        import numpy as np

        from envs.skills import get_skill

        if get_skill(skill).settle_body is not None:
            arr = np.asarray(settle_tasks, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[0] == 0:
                raise ValueError(f"settle_tasks must be an (n >= 1, k) array of rand_vecs, got shape {arr.shape}")
            key = tuple(map(tuple, arr.tolist()))
    if family is not None:
        family = tuple(family)
        if skill not in family:
            raise ValueError(f"family {list(family)} does not contain {skill!r}")
    return _make(
        skill, bool(partially_observable), int(max_path_length), tuple(sorted(scene_options.items())), key, family
    )


@_functools.lru_cache(maxsize=None)
def _make(skill, partially_observable, max_path_length, scene_options, settle_tasks=None, family=None):
    import numpy as np
    from mujoco import mjx

    from envs.sawyer import Env, Sim
    from envs.family import joint_maps, padded_model, template
    from envs.settle import settled_state
    from envs.skills import get_skill

    if max_path_length < 1:
        raise ValueError(f"max_path_length must be >= 1, got {max_path_length}")
    spec = get_skill(skill)
    if scene_options:
        valid = {f.name for f in _dataclasses.fields(spec.scene)} - {"xml", "proxies", "pairs"}
        bad = set(dict(scene_options)) - valid
        if bad:
            raise ValueError(f"unknown scene option(s) {sorted(bad)}; valid: {sorted(valid)}")
        spec = _dataclasses.replace(spec, scene=_dataclasses.replace(spec.scene, **dict(scene_options)))
    tmpl = template(family) if family is not None else None
    model = padded_model(spec.scene, tmpl)
    qpos_map, dof_map = joint_maps(spec.scene, model) if tmpl is not None else (None, None)
    settled = settled_state(skill)
    own_nq = len(qpos_map) if qpos_map is not None else model.nq
    if settled["qpos"].shape != (own_nq,):
        raise RuntimeError(f"{skill}: scene nq={own_nq} but metaworld's has {settled['qpos'].shape[0]}")
    settled = _to_model_layout(settled, model, qpos_map, dof_map)
    consts = {k: np.asarray(v) for k, v in settled.items()}
    table = None
    if settle_tasks is not None:
        from envs.settle import task_settled_states

        table = task_settled_states(skill, np.asarray(settle_tasks, np.float64), placed=spec.settle_table_placed)
        table = _to_model_layout(table, model, qpos_map, dof_map)
    import jax

    # on this process's first device: mjx's default, jax.devices()[0], is process 0's in a multi-process run
    sim = Sim(
        model=model,
        mx=mjx.put_model(model, device=jax.local_devices()[0]),
        settled=settled,
        consts=consts,
        settle_table=table,
        qpos_map=qpos_map,
        dof_map=dof_map,
    )
    return Env(skill=spec, sim=sim, partially_observable=partially_observable, max_path_length=max_path_length)


def _to_model_layout(fields, model, qpos_map, dof_map):
    """metaworld's state fields (qpos / qvel / qacc_warmstart, also "placed_" ones, any leading batch axes) in
    the padded model's layout: the skill's own entries where `joint_maps` puts them, the template's dummy
    bodies at rest (qpos0, zero velocity). Identity maps (None): unchanged."""
    import numpy as np

    if qpos_map is None:
        return fields
    out = dict(fields)
    for key, v in fields.items():
        field = key.removeprefix("placed_")
        if field not in ("qpos", "qvel", "qacc_warmstart"):
            continue
        v = np.asarray(v)
        index, size = (qpos_map, model.nq) if field == "qpos" else (dof_map, model.nv)
        rest = np.asarray(model.qpos0, v.dtype) if field == "qpos" else np.zeros(size, v.dtype)
        new = np.broadcast_to(rest, v.shape[:-1] + (size,)).copy()
        new[..., index] = v
        out[key] = new
    return out


def benchmark(name: str, seed: int = 0):
    """Task sets of a Meta-World benchmark, identical to metaworld's (see envs.benchmarks)."""
    from envs.benchmarks import benchmark as _benchmark

    return _benchmark(name, seed=seed)
