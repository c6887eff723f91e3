"""Adapters from the MJX Meta-World envs to other RL libraries' env APIs.

gym_vector_env(benchmark, envs_per_skill, *, seed=0, max_path_length=500, split="train", **make_kwargs)
    A `gymnasium.vector.VectorEnv` (gymnasium 1.x API, numpy in and out) over the batched multi-task env
    `envs.multitask.make_multitask(envs.benchmark(benchmark, seed), envs_per_skill)`:

    * N = num_skills * envs_per_skill sub-envs, skill-major (sub-env s * envs_per_skill + i runs skill s).
    * single_observation_space: Box((39,), float32) with metaworld's bounds (hand, gripper, goal; objects
      unbounded), widened over the benchmark's skills; observation_space: the same batched, (N, 39).
    * single_action_space: Box(-1, 1, (4,), float32); action_space: Box(-1, 1, (N, 4), float32).
    * reset(seed=None, options=None) -> (obs (N, 39) float32, info). seed: an int restarts the env's PRNG
      key from it (every sub-env draws a task uniformly from its skill's task set); None continues from the
      current key (the constructor's `seed` on the first reset). options: None or {} (no partial reset).
    * step(actions (N, 4)) -> (obs (N, 39) float32, reward (N,) float64, terminated (N,) bool (always False:
      Meta-World never terminates), truncated (N,) bool, info). One jitted call of the batched env's step
      per `step`, one device-to-host transfer of its outputs. Non-finite action entries are replaced by 0
      (counted in info["nonfinite_action"]); actions are clipped to [-1, 1] by the physics.
    * truncated: the episode reached `max_path_length` steps, or the physics diverged (info["physics_nan"];
      the sub-env is then auto-reset like any finished episode).
    * metadata["autoreset_mode"] = AutoresetMode.SAME_STEP (as metaworld's own vector envs): where
      truncated, `obs` is already the first observation of the sub-env's next episode (a new task drawn
      from its skill's task set); the last observation of the finished episode is in
      info["final_obs"][i] (a numpy object array, None for sub-envs that did not finish, mask
      info["_final_obs"]), its info in info["final_info"] (mask info["_final_info"]), exactly the keys
      `gymnasium.vector.SyncVectorEnv` uses in that mode; they are present only on steps where some
      sub-env finished. Every step's info also holds the dense info["next_obs"] (N, 39): the true next
      observation of every transition (= obs where not truncated), convenient for a replay buffer.
    * info (every reset and step; each key `k` with its all-True mask `_k`): "success" (N,) bool (the
      step's metaworld success flag), "skill_id" (N,) int32 (skill index within the benchmark),
      "task_index" (N,) int32 (row of the skill's task set being run), "episode_success" (N,) bool (any
      success so far in the episode; where truncated, the finished episode's), and after a step
      "physics_nan" (N,) bool, "nonfinite_action" (N,) float32.

brax_env(skill, *, seed=0, split="train", benchmark=None, partially_observable=None)
    A `brax.envs.Env` (brax 0.14, optional dependency `brax`) of one skill for brax's trainers:

    * reset(rng) draws a task row uniformly from the skill's task set (the benchmark's, default
      ``MT1/<skill>`` with `seed`) and returns a `brax.envs.State`: obs (39,) float32, reward () float32,
      done () float32, metrics {"success": () float32}, info {"truncation": () float32 (0; brax's
      EpisodeWrapper owns truncation), "task_index": () int32}, pipeline_state the skill's
      `envs.sawyer.EnvState` (physics data, episode constants, previous frame).
    * step(state, action (4,)) -> State. done is 1 only where the physics diverged (the env then keeps its
      last finite state); episodes are cut by the trainer's wrapper (`episode_length`), whose auto-reset
      restores the pipeline_state of the env's first reset, so under brax's training wrappers every
      parallel env keeps the task its first reset drew.
    * observation_size 39, action_size 4, dt = frame_skip * the scene's timestep (0.0125 s: 5 x 2.5 ms),
      backend "mjx".
    * brax 0.14.2's trainers call `jax.device_put_replicated`, which JAX 0.10 no longer exports; set
      ``jax.device_put_replicated = jax._src.api.device_put_replicated`` before calling them (docs/adapters.md).

Bad arguments (unknown benchmark or skill, non-positive sizes, wrong action shapes, unsupported reset
options) raise ValueError naming the bad value before anything is compiled.
"""

from __future__ import annotations

import numbers
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from envs.sawyer import ACTION_DIM, OBS_DIM, obs_bounds

#: max_path_length of the brax adapter's inner env: large enough never to truncate on its own.
_NO_TRUNCATION = 2**30


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _benchmark(benchmark, seed: int):
    import envs
    from envs.benchmarks import Benchmark

    if isinstance(benchmark, Benchmark):
        return benchmark
    if not isinstance(benchmark, str):
        raise ValueError(
            f"benchmark must be a name (e.g. 'MT1/reach-v3', 'MT10') or an envs Benchmark, got {benchmark!r}"
        )
    return envs.benchmark(benchmark, seed)


# ------------------------------------------------------------------------------------ gymnasium
def _vector_step(menv, state, actions):
    """The batched env's step plus the numpy-side outputs of a gymnasium step (one jitted call)."""
    state = menv.step(state, actions)
    return state, _outputs(menv, state)


def _vector_start(menv, key, pool):
    state = menv.start(key, pool)
    return state, _outputs(menv, state)


def _outputs(menv, state) -> dict:
    n = menv.envs_per_skill
    task_index = jnp.concatenate([jnp.asarray(t, jnp.int32).reshape(n) for t in state.task_index])
    return {
        "obs": state.obs,
        "next_obs": state.final_obs,
        "reward": state.reward,
        "truncated": state.done,
        "success": state.success,
        "episode_success": state.episode_success,
        "physics_nan": state.physics_nan,
        "nonfinite_action": state.nonfinite_action,
        "skill_id": state.skill_id,
        "task_index": task_index,
    }


def gym_vector_env(
    benchmark,
    envs_per_skill: int = 1,
    *,
    seed: int = 0,
    max_path_length: int = 500,
    split: str = "train",
    **make_kwargs,
):
    """A gymnasium 1.x VectorEnv over `benchmark`'s batched MJX env (see the module docstring).

    benchmark: a name ("MT1/reach-v3", "MT10", ...) or an `envs.benchmark(...)` Benchmark.
    envs_per_skill: sub-envs per skill. seed: the benchmark's task sets' seed and the first reset's key.
    make_kwargs: forwarded to `envs.multitask.make_multitask` (skills=, share_physics=, partially_observable=...).
    """
    seed = _check_int("seed", seed, 0)
    envs_per_skill = _check_int("envs_per_skill", envs_per_skill, 1)
    max_path_length = _check_int("max_path_length", max_path_length, 1)
    from envs.multitask import make_multitask

    bench = _benchmark(benchmark, seed)
    menv = make_multitask(bench, envs_per_skill, split=split, max_path_length=max_path_length, **make_kwargs)
    return MetaWorldVectorEnv(menv, seed=seed)


class MetaWorldVectorEnv(VectorEnv):
    """gymnasium VectorEnv over an `envs.multitask.MultiTaskEnv` (see `envs.adapters`)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, menv, *, seed: int = 0):
        self.menv = menv
        self.num_envs = menv.num_envs
        self.skills = tuple(menv.skills)
        lo, hi = zip(*(obs_bounds(e.skill, e.partially_observable) for e in menv.envs))
        low, high = np.min(lo, axis=0).astype(np.float32), np.max(hi, axis=0).astype(np.float32)
        self.single_observation_space = gym.spaces.Box(low, high, (OBS_DIM,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._seed = _check_int("seed", seed, 0)
        self._step_fn = jax.jit(lambda s, a: _vector_step(menv, s, a))
        self._start_fn = jax.jit(lambda k, p: _vector_start(menv, k, p))
        # The reset pool: one small executable per physics group (as jaxmeta.train compiles it), computed once.
        self._pool_fns = [
            jax.jit(lambda gi=gi: menv.group_reset_pool(gi, menv.group_tasks(gi)))
            for gi in range(menv.num_physics_groups)
        ]
        self._pool = None
        self._state = None

    def compile(self) -> float:
        """Compile reset and step (and compute the reset pool) now, without touching the env's episodes;
        returns the seconds spent. Optional: the first reset / step compile otherwise."""
        import time

        t0 = time.perf_counter()
        state, _ = self._start_fn(jax.random.PRNGKey(self._seed), self._reset_pool())
        jax.block_until_ready(self._step_fn(state, jnp.zeros((self.num_envs, ACTION_DIM), jnp.float32)))
        return time.perf_counter() - t0

    def _reset_pool(self):
        if self._pool is None:
            parts = [jax.block_until_ready(f()) for f in self._pool_fns]
            self._pool = self.menv.skill_order(parts)
        return self._pool

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if options:
            raise ValueError(f"reset options are not supported (no partial reset in SAME_STEP mode), got {options!r}")
        if seed is not None:
            seed = _check_int("seed", seed, 0)
        super().reset(seed=seed)
        if seed is not None:
            key = jax.random.PRNGKey(seed)
        elif self._state is None:
            key = jax.random.PRNGKey(self._seed)
        else:
            key = self._state.key
        self._state, out = self._start_fn(key, self._reset_pool())
        out = _to_numpy(out)
        info = _info(out, ("success", "episode_success", "skill_id", "task_index"))
        return out["obs"], info

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, ACTION_DIM):
            raise ValueError(f"actions must have shape ({self.num_envs}, {ACTION_DIM}), got {actions.shape}")
        if not np.issubdtype(actions.dtype, np.number):
            raise ValueError(f"actions must be numeric, got dtype {actions.dtype}")
        self._state, out = self._step_fn(self._state, actions.astype(np.float32, copy=False))
        out = _to_numpy(out)
        truncated = np.asarray(out["truncated"], bool)
        terminated = np.zeros_like(truncated)
        info = _info(
            out, ("success", "episode_success", "skill_id", "task_index", "physics_nan", "nonfinite_action", "next_obs")
        )
        if truncated.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(truncated):
                final_obs[i] = out["next_obs"][i]
            keys = ("success", "episode_success", "skill_id", "physics_nan", "nonfinite_action")
            final_info = {k: np.where(truncated, out[k], np.zeros_like(out[k])) for k in keys}
            final_info.update({f"_{k}": truncated.copy() for k in keys})
            info.update(
                final_obs=final_obs, _final_obs=truncated.copy(), final_info=final_info, _final_info=truncated.copy()
            )
        return out["obs"], np.asarray(out["reward"], np.float64), terminated, truncated, info

    def __repr__(self):
        return f"MetaWorldVectorEnv({list(self.skills)}, num_envs={self.num_envs})"


def _to_numpy(out: dict) -> dict:
    """One device-to-host transfer; writable numpy copies (callers may modify what a step returns)."""
    return {k: np.array(v) for k, v in jax.device_get(out).items()}


def _info(out: dict, keys) -> dict:
    info = {}
    for k in keys:
        info[k] = np.asarray(out[k])
        info[f"_{k}"] = np.ones(info[k].shape[0], bool)
    return info


# ------------------------------------------------------------------------------------------ brax
def brax_env(
    skill: str, *, seed: int = 0, split: str = "train", benchmark=None, partially_observable: bool | None = None
):
    """A brax 0.14 `Env` of one skill, reset to tasks of its task set (see the module docstring).

    benchmark: the task sets' benchmark (name or Benchmark; default ``"MT1/<skill>"``), `split` its train or
    test tasks of `skill`. seed: the benchmark's seed. partially_observable: hide the goal (None: as the
    benchmark does, i.e. the ML benchmarks)."""
    import envs
    from envs.multitask import _table_only
    from envs.skills import get_skill

    if not isinstance(skill, str):
        raise ValueError(f"skill must be a skill name (e.g. 'reach-v3'), got {skill!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    seed = _check_int("seed", seed, 0)
    get_skill(skill)  # ValueError listing valid names / NotImplementedError for unported skills
    bench = _benchmark(f"MT1/{skill}" if benchmark is None else benchmark, seed)
    task_sets = bench.train_tasks if split == "train" else bench.test_tasks
    if skill not in task_sets:
        raise ValueError(f"{skill!r} is not in {bench.name}'s {split} split; valid: {sorted(task_sets)}")
    tasks = np.asarray(task_sets[skill], np.float32)
    if partially_observable is None:
        partially_observable = bench.partially_observable
    env = envs.make(
        skill,
        partially_observable=bool(partially_observable),
        max_path_length=_NO_TRUNCATION,
        settle_tasks=task_sets[skill],
    )
    env = _table_only(env, task_sets[skill])
    return _brax_class()(env, tasks)


_BRAX = []


def _brax_class():
    if _BRAX:
        return _BRAX[0]
    from brax.envs.base import Env as BraxEnv
    from brax.envs.base import State

    class MetaWorldBraxEnv(BraxEnv):
        """One Meta-World skill as a brax Env (see `envs.adapters`)."""

        def __init__(self, env, tasks: np.ndarray):
            self.env = env
            self.tasks = tasks

        @property
        def observation_size(self) -> int:
            return OBS_DIM

        @property
        def action_size(self) -> int:
            return ACTION_DIM

        @property
        def dt(self) -> float:
            return float(self.env.sim.model.opt.timestep) * self.env.frame_skip

        @property
        def backend(self) -> str:
            return "mjx"

        def reset(self, rng: jax.Array) -> State:
            idx = jax.random.randint(rng, (), 0, self.tasks.shape[0], dtype=jnp.int32)
            es = self.env.reset(None, jnp.asarray(self.tasks)[idx])
            zero = jnp.zeros((), jnp.float32)
            return State(
                pipeline_state=es,
                obs=es.obs,
                reward=zero,
                done=zero,
                metrics={"success": zero},
                info={"truncation": zero, "task_index": idx},
            )

        def step(self, state: State, action: jax.Array) -> State:
            action = jnp.asarray(action)
            if action.shape != (ACTION_DIM,):
                raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
            es = self.env.step(state.pipeline_state, action)
            metrics = dict(state.metrics, success=es.info["success"].astype(jnp.float32))
            return state.replace(
                pipeline_state=es,
                obs=es.obs,
                reward=es.reward.astype(jnp.float32),
                done=es.done.astype(jnp.float32),
                metrics=metrics,
            )

    _BRAX.append(MetaWorldBraxEnv)
    return MetaWorldBraxEnv
