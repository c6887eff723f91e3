"""Metaworld CPU reference harness: build metaworld envs for a task, record scripted-expert rollouts with the
full MuJoCo state, measure expert success and metaworld's own CPU throughput.

Used by the fidelity tests (MJX port vs metaworld) and by experiments/bench_envs.py. Imports metaworld lazily.

State recording. ``get_state`` returns ``mj_getState(mjSTATE_INTEGRATION)``: everything ``mj_step`` reads: time, qpos, qvel, act,
history, mocap_pos, mocap_quat, plugin state, userdata, ctrl, qfrc_applied, xfrc_applied, eq_active and the
solver warm start ``qacc_warmstart``. Restoring it with ``mj_setState`` (see ``restore_state``) into an env of
the same task and stepping reproduces metaworld bitwise (checked in tests/envs/test_reference.py). Note that
metaworld also edits the *model* at reset (``model.body_pos`` of drawers/doors/boxes, ``model.site_pos`` of
goals), which is not part of the MuJoCo state: a rollout records those model arrays after reset too.

The scripted policies read the goal from obs[36:39], so expert rollouts default to a goal-visible
(``partially_observable=False``, MT-style) task.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

STATE_FIELDS: tuple[str, ...] = (
    "time",
    "qpos",
    "qvel",
    "act",
    "ctrl",
    "mocap_pos",
    "mocap_quat",
    "qacc_warmstart",
    "qfrc_applied",
    "xfrc_applied",
    "eq_active",
)
"""Named ``mjData`` fields recorded before/after each step (the parts of mjSTATE_INTEGRATION a port needs)."""

MODEL_FIELDS: tuple[str, ...] = ("body_pos", "body_quat", "site_pos", "geom_pos")
"""``mjModel`` arrays recorded after reset (metaworld moves bodies/sites per task in ``reset_model``)."""

# Attributes of the env that are numbers/arrays but not per-episode task constants.
_NOT_CONSTANTS = frozenset(
    {
        "_prev_obs",  # observation frame-stack buffer
        "prev_obs",  # typo'd buffer some envs write in reset_model (unused)
        "_last_stable_obs",  # last returned observation
        "_last_rand_vec",  # recorded as ``rand_vec``
        "init_qpos",  # model qpos0 / zeros, unused by v3 resets
        "init_qvel",
        "curr_path_length",
        "num_resets",
        "_np_random_seed",  # gymnasium's RNG seed (random unless seeded)
        "width",
        "height",
    }
)


def _state_spec():
    import mujoco

    return mujoco.mjtState.mjSTATE_INTEGRATION


def get_state(env) -> np.ndarray:
    """Full integration state (``mj_getState(mjSTATE_INTEGRATION)``) of a metaworld env, float64 vector."""
    import mujoco

    spec = _state_spec()
    out = np.empty(mujoco.mj_stateSize(env.model, spec), dtype=np.float64)
    mujoco.mj_getState(env.model, env.data, out, spec)
    return out


def restore_state(env, state: np.ndarray, forward: bool = True) -> None:
    """Inverse of ``get_state``; runs ``mj_forward`` so derived quantities (xpos, contacts, ...) are valid."""
    import mujoco

    mujoco.mj_setState(env.model, env.data, np.asarray(state, dtype=np.float64), _state_spec())
    if forward:
        mujoco.mj_forward(env.model, env.data)


def _named_state(env) -> dict[str, np.ndarray]:
    d = env.data
    out = {}
    for f in STATE_FIELDS:
        v = getattr(d, f)
        out[f] = np.array(v, dtype=np.uint8 if f == "eq_active" else np.float64, copy=True)
    return out


def _numeric_attrs(env) -> dict[str, Any]:
    out = {}
    for k, v in vars(env).items():
        if k in _NOT_CONSTANTS:
            continue
        if isinstance(v, (bool, np.bool_)):
            continue
        if isinstance(v, (int, float, np.integer, np.floating)):
            out[k] = np.asarray(v, dtype=np.float64)
        elif isinstance(v, np.ndarray) and v.dtype.kind in "fiu" and v.size <= 64:
            out[k] = np.array(v, dtype=np.float64, copy=True)
    return out


def _env_cls(skill: str):
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    if skill not in ALL_V3_ENVIRONMENTS:
        raise ValueError(f"unknown skill {skill!r}; valid skills: {', '.join(ALL_V3_ENVIRONMENTS)}")
    return ALL_V3_ENVIRONMENTS[skill]


def _make(skill: str, rand_vec, partially_observable: bool, seed: int | None):
    """(env, reset_obs, numeric attrs before reset)."""
    import metaworld

    cls = _env_cls(skill)
    env = cls()
    # Exactly how metaworld's benchmarks encode a task (metaworld._make_tasks / _encode_task).
    data = dict(
        rand_vec=np.array(rand_vec, dtype=np.float64),  # a copy: envs alias it (e.g. obj_init_pos = rand_vec)
        env_cls=cls,
        partially_observable=bool(partially_observable),
    )
    env.set_task(metaworld._encode_task(skill, data))
    if seed is not None:
        env.seed(seed)  # only matters for unfrozen rand_vecs; harmless otherwise
    before = _numeric_attrs(env)
    obs, _ = env.reset()
    return env, obs, before


def make_metaworld_env(skill: str, rand_vec, partially_observable: bool = False):
    """A metaworld v3 env of ``skill`` with its task set to ``rand_vec`` (metaworld's Task encoding and
    ``set_task``), already reset. Its reset observation is ``env._last_reset_obs`` (set by this helper)."""
    env, obs, _ = _make(skill, rand_vec, partially_observable, seed=None)
    env._last_reset_obs = obs
    return env


def _policy(skill: str):
    from metaworld.policies import ENV_POLICY_MAP

    return ENV_POLICY_MAP[skill]()


def record_expert_rollout(
    skill: str,
    rand_vec,
    n_steps: int,
    seed: int = 0,
    partially_observable: bool = False,
    action_noise: float = 0.0,
) -> dict[str, Any]:
    """Roll out metaworld's scripted policy for ``skill`` on the task ``rand_vec`` and record everything.

    The action passed to ``env.step`` is the policy's float32 action (not clipped: metaworld clips xyz in
    ``set_xyz_action``, MuJoCo clamps the gripper ctrl to [-1, 1]); with ``action_noise > 0`` Gaussian noise of
    std ``action_noise * (high - low) = 2 * action_noise`` is added (metaworld's scripted-policy test convention),
    from ``np.random.default_rng(seed)``, and the result cast to float32. Recording stops early at truncation
    (metaworld raises if stepped past ``max_path_length`` = 500), so ``T = min(n_steps, 500)``.

    Returns a dict:
      per step (leading axis T):
        ``action`` (T, 4) float32, ``obs`` (T, 39), ``reward`` (T,), ``success`` (T,) float (info["success"]),
        ``terminated`` (T,) bool, ``truncated`` (T,) bool, ``info_<key>`` (T,) for the other info keys,
        ``<field>_before`` / ``<field>_after`` for each of ``STATE_FIELDS`` (e.g. ``qpos_before`` (T, nq),
        ``mocap_quat_after`` (T, nmocap, 4), ``time_before`` (T,)), and ``state_before`` / ``state_after``
        (T, S): the ``mj_getState(mjSTATE_INTEGRATION)`` vectors (restore with ``restore_state``).
        ``*_after[t] == *_before[t+1]`` (nothing touches the simulator between steps).
      per episode:
        ``skill``, ``rand_vec``, ``partially_observable``, ``reset_obs`` (39,), ``reset_state`` (S,)
        (== ``state_before[0]``), ``constants``: {name: float64 array} of every numeric attribute of the env
        after reset (``_target_pos``, ``obj_init_pos``, ``init_tcp``, ``init_left_pad``, ``init_right_pad``,
        ``hand_init_pos``, skill-specific ones such as ``maxPullDist``/``maxDist``/``objHeight``/
        ``heightTarget``, but also static config like ``action_scale``, ``mocap_low``, ``hand_low``...),
        ``changed_by_reset``: sorted names of those that reset created or changed (vs. the env right after
        ``set_task``), ``model``: {``body_pos``, ``body_quat``, ``site_pos``, ``geom_pos``} after reset.
    """
    env, obs, before = _make(skill, rand_vec, partially_observable, seed)
    policy = _policy(skill)
    rng = np.random.default_rng(seed)
    constants = _numeric_attrs(env)
    changed = sorted(
        k
        for k, v in constants.items()
        if k not in before or before[k].shape != v.shape or not np.array_equal(before[k], v)
    )
    out: dict[str, Any] = {
        "skill": skill,
        "rand_vec": np.array(rand_vec, dtype=np.float64),
        "partially_observable": bool(partially_observable),
        "reset_obs": np.array(obs, dtype=np.float64),
        "reset_state": get_state(env),
        "constants": constants,
        "changed_by_reset": tuple(changed),
        "model": {f: np.array(getattr(env.model, f), copy=True) for f in MODEL_FIELDS},
    }
    rec: dict[str, list] = {}

    def put(k, v):
        rec.setdefault(k, []).append(v)

    n_steps = min(int(n_steps), env.max_path_length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # policies warn "Constant(s) may be too high" on most steps
        for _ in range(n_steps):
            for f, v in _named_state(env).items():
                put(f + "_before", v)
            put("state_before", get_state(env))
            a = np.asarray(policy.get_action(obs), dtype=np.float32)
            if action_noise > 0:
                ptp = env.action_space.high - env.action_space.low
                a = rng.normal(a, action_noise * ptp).astype(np.float32)
            obs, reward, terminated, truncated, info = env.step(a)
            put("action", a)
            put("obs", np.array(obs, dtype=np.float64))
            put("reward", float(reward))
            put("terminated", bool(terminated))
            put("truncated", bool(truncated))
            for k, v in info.items():
                put("success" if k == "success" else "info_" + k, float(v))
            for f, v in _named_state(env).items():
                put(f + "_after", v)
            put("state_after", get_state(env))
            if truncated:
                break
    for k, v in rec.items():
        out[k] = np.stack(v) if isinstance(v[0], np.ndarray) else np.asarray(v)
    env.close()
    return out


def expert_success_rate(skill: str, rand_vecs, max_steps: int = 500, action_noise: float = 0.0, seed: int = 0) -> float:
    """Fraction of tasks (rows of ``rand_vecs``) on which metaworld's scripted policy has ``info["success"]``
    at any step within ``max_steps`` (metaworld's evaluation: AutoTerminateOnSuccessWrapper ends the episode
    at the first success and counts it). Goal-visible tasks (the policies read the goal from the obs)."""
    rand_vecs = np.atleast_2d(np.asarray(rand_vecs, dtype=np.float64))
    max_steps = min(int(max_steps), 500)
    policy = _policy(skill)
    rng = np.random.default_rng(seed)
    wins = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rv in rand_vecs:
            env, obs, _ = _make(skill, rv, False, seed=None)
            for _ in range(max_steps):
                a = np.asarray(policy.get_action(obs), dtype=np.float32)
                if action_noise > 0:
                    a = rng.normal(a, 2.0 * action_noise).astype(np.float32)
                obs, _, _, truncated, info = env.step(a)
                if info["success"]:
                    wins += 1
                    break
                if truncated:
                    break
            env.close()
    return wins / len(rand_vecs)


# ----------------------------------------------------------------------------------------------- throughput


def _default_task(skill: str) -> np.ndarray:
    from envs.benchmarks import benchmark

    return np.array(benchmark(f"MT1/{skill}", 0).train_tasks[skill][0])


def _throughput_setup(skill, rand_vec, n_steps, seed):
    env, _, _ = _make(skill, rand_vec, False, seed=None)
    actions = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n_steps, 4)).astype(np.float32)
    for a in actions[:5]:  # warm up outside the timed window
        env.step(a)
    env.reset()
    return env, actions


def _throughput_run(env, actions) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for stepping through ``actions``."""
    step, reset = env.step, env.reset
    c0, t0 = time.process_time(), time.perf_counter()
    for a in actions:
        if step(a)[3]:  # truncated: auto-reset (its cost is part of metaworld's throughput)
            reset()
    return time.perf_counter() - t0, time.process_time() - c0


def _throughput_worker_main() -> None:
    """Entry point of a throughput worker subprocess (``python -c``): reads its job as JSON from stdin, sets up,
    prints ``ready``, waits for ``go`` on stdin, runs, prints the elapsed seconds as JSON."""
    import json
    import sys

    job = json.loads(sys.stdin.readline())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env, actions = _throughput_setup(job["skill"], np.array(job["rand_vec"]), job["n_steps"], job["seed"])
        print(_READY, flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        wall, cpu = _throughput_run(env, actions)
    print(_RESULT + json.dumps({"seconds": wall, "cpu_seconds": cpu}), flush=True)


_READY, _RESULT = "__jaxmeta_throughput_ready__", "__jaxmeta_throughput_result__ "


def _read_marked(p, marker: str, phase: str) -> str:
    """Next stdout line of worker ``p`` starting with ``marker`` (other output, e.g. from imports, skipped)."""
    for line in p.stdout:
        if line.startswith(marker):
            return line[len(marker) :]
    raise RuntimeError(f"throughput worker died during {phase} (exit code {p.wait()})")


def _run_workers(skill, rand_vec, n_steps, n_procs, seed) -> list[tuple[float, float]]:
    # Plain subprocesses rather than multiprocessing: no dependence on the caller's ``__main__`` guard
    # (spawn/forkserver re-import the main script) and no fork of a process that may hold JAX threads.
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    code = "from envs.reference import _throughput_worker_main as m; m()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=root
        )
        for _ in range(n_procs)
    ]
    try:
        for i, p in enumerate(procs):
            job = dict(skill=skill, rand_vec=[float(x) for x in rand_vec], n_steps=n_steps, seed=seed + i)
            p.stdin.write(json.dumps(job) + "\n")
            p.stdin.flush()
        for p in procs:
            _read_marked(p, _READY, "setup")
        for p in procs:  # start together: setup (imports, env construction) is excluded
            p.stdin.write("go\n")
            p.stdin.flush()
        times = []
        for p in procs:
            r = json.loads(_read_marked(p, _RESULT, "run"))
            times.append((r["seconds"], r["cpu_seconds"]))
        return times
    finally:
        for p in procs:
            if p.poll() is None:
                p.stdin.close()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def metaworld_throughput(
    skill: str, n_steps: int, n_procs: int = 1, rand_vec=None, seed: int = 0, return_details: bool = False
):
    """Aggregate env-steps/s of metaworld's CPU env of ``skill`` stepping uniform random actions.

    ``n_procs`` worker subprocesses (in-process when ``n_procs == 1``), one env each, each doing
    ``n_steps`` steps (auto-reset at truncation every 500 steps; resets are included, as in real use).
    Imports, env construction, task setup and 5 warm-up steps are excluded: workers start together on a
    ``go`` line after all reported ready, and
    the result is ``n_procs * n_steps / max(worker wall time)``. ``rand_vec`` defaults to task 0 of
    ``MT1/<skill>`` seed 0. With ``return_details`` returns a dict with per-worker wall and CPU seconds and
    ``steps_per_cpu_s`` (steps per CPU-second: a load-independent per-core figure; on a shared, oversubscribed
    machine the wall-clock number understates what an idle core gives).
    """
    _env_cls(skill)
    if n_steps < 1 or n_procs < 1:
        raise ValueError("n_steps and n_procs must be >= 1")
    rand_vec = _default_task(skill) if rand_vec is None else np.asarray(rand_vec, dtype=np.float64)
    if n_procs == 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env, actions = _throughput_setup(skill, rand_vec, n_steps, seed)
            times = [_throughput_run(env, actions)]
    else:
        times = _run_workers(skill, rand_vec, n_steps, n_procs, seed)
    wall = [w for w, _ in times]
    cpu = [c for _, c in times]
    sps = n_procs * n_steps / max(wall)
    if return_details:
        return {
            "steps_per_s": sps,
            "n_procs": n_procs,
            "n_steps": n_steps,
            "worker_seconds": wall,
            "worker_cpu_seconds": cpu,
            # load-independent estimate: steps per CPU-second of one worker (what one uncontended core gives)
            "steps_per_cpu_s": n_steps * n_procs / sum(cpu),
        }
    return sps
