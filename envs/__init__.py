"""Meta-World on MuJoCo XLA: pure, jit-able, vmap-able Sawyer manipulation envs.

    env = envs.make("reach-v3")
    bench = envs.benchmark("MT10", seed=0)
    state = env.reset(key, bench.train_tasks["reach-v3"][0])
    state = jax.jit(env.step)(state, action)
"""
from envs._runtime import configure_xla as _configure_xla

_configure_xla()

import dataclasses as _dataclasses  # noqa: E402
import functools as _functools  # noqa: E402


def make(skill: str, *, partially_observable: bool = False, max_path_length: int = 500, **scene_options):
    """The MJX env of a Meta-World skill (e.g. "reach-v3").

    partially_observable: hide the goal (zeros), as metaworld's ML benchmarks do.
    max_path_length: steps until `truncated` (metaworld: 500).
    scene_options: override solver settings of the skill's scene (iterations, ls_iterations, cone,
        solver), e.g. for accuracy/speed studies.
    Envs are cached: the same arguments return the same (hashable) Env, so jitted code is reused.
    """
    return _make(skill, bool(partially_observable), int(max_path_length), tuple(sorted(scene_options.items())))


@_functools.lru_cache(maxsize=None)
def _make(skill, partially_observable, max_path_length, scene_options):
    import numpy as np
    from mujoco import mjx

    from envs.sawyer import Env, Sim
    from envs.scene import build_model
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
    model = build_model(spec.scene)
    settled = settled_state(skill)
    if settled["qpos"].shape != (model.nq,):
        raise RuntimeError(f"{skill}: scene nq={model.nq} but metaworld's has {settled['qpos'].shape[0]}")
    consts = {k: np.asarray(v) for k, v in settled.items()}
    sim = Sim(model=model, mx=mjx.put_model(model), settled=settled, consts=consts)
    return Env(skill=spec, sim=sim, partially_observable=partially_observable, max_path_length=max_path_length)


def benchmark(name: str, seed: int = 0):
    """Task sets of a Meta-World benchmark, identical to metaworld's (see envs.benchmarks)."""
    from envs.benchmarks import benchmark as _benchmark

    return _benchmark(name, seed=seed)
