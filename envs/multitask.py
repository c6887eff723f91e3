"""Batched multi-task env: N instances of every skill of a benchmark, stepped in one jitted call.

Skills have different scenes, so each skill is its own vmapped group inside one function; outputs are
concatenated skill-major (instance i of skill s is row s * n + i). Finished instances (truncated at
500 steps, or physics NaN) are reset in place with a task drawn uniformly from that skill's task set
(the benchmark's 50 metaworld rand_vecs), using the key carried in the state.

    menv = make_multitask(envs.benchmark("MT10"), envs_per_skill=8)
    s = menv.reset(key)
    s = jax.jit(menv.step)(s, actions)      # actions (N, 4)
    s.obs, s.reward, s.done, s.success, s.task_id, s.final_obs

`final_obs` is the observation the step produced before any auto-reset (the true next observation of
the transition, for replay); `obs` is what the policy sees next.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.sawyer import ACTION_DIM, OBS_DIM, Env, EnvState


@struct.dataclass
class MultiTaskState:
    """Batched state. N = num_skills * envs_per_skill.

    groups:      tuple of per-skill batched EnvState (leading axis envs_per_skill).
    task_index:  tuple of per-skill (envs_per_skill,) int32: which of the skill's tasks each runs.
    obs:         (N, 39) f32 observation for the next action (after auto-reset).
    final_obs:   (N, 39) f32 observation produced by the last step (before auto-reset).
    reward:      (N,) f32. done: (N,) bool (episode ended this step). truncated: (N,) bool.
    success:     (N,) bool, success flag of the last step. episode_success: (N,) bool, any success
                 so far in the current episode (where done, the finished episode's result).
    physics_nan: (N,) bool, the instance diverged this step and was reset.
    nonfinite_action: (N,) f32 count of NaN/inf action entries replaced by 0 this step.
    task_id:     (N,) int32 skill index within the benchmark (for one-hot conditioning).
    key:         PRNG key for task sampling at auto-reset.
    """

    groups: tuple
    task_index: tuple
    obs: jax.Array
    final_obs: jax.Array
    reward: jax.Array
    done: jax.Array
    truncated: jax.Array
    success: jax.Array
    episode_success: jax.Array
    physics_nan: jax.Array
    nonfinite_action: jax.Array
    task_id: jax.Array
    key: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class MultiTaskEnv:
    """N instances per skill of a set of skills with their task sets (hashable by identity)."""

    skills: tuple[str, ...]
    envs: tuple[Env, ...]
    tasks: tuple[np.ndarray, ...]  # per skill (n_tasks, rand_vec_size)
    envs_per_skill: int

    @property
    def num_skills(self) -> int:
        return len(self.skills)

    @property
    def num_envs(self) -> int:
        return self.num_skills * self.envs_per_skill

    @property
    def observation_size(self) -> int:
        return OBS_DIM

    @property
    def action_size(self) -> int:
        return ACTION_DIM

    def task_ids(self) -> jax.Array:
        return jnp.repeat(jnp.arange(self.num_skills, dtype=jnp.int32), self.envs_per_skill)

    def _reset_group(self, g: int, task_index: jax.Array) -> EnvState:
        env, tasks = self.envs[g], jnp.asarray(self.tasks[g], jnp.float32)
        return jax.vmap(lambda i: env.reset(None, tasks[i]))(task_index)

    def _sample_tasks(self, key: jax.Array) -> tuple:
        keys = jax.random.split(key, self.num_skills)
        return tuple(
            jax.random.randint(keys[g], (self.envs_per_skill,), 0, len(self.tasks[g]), dtype=jnp.int32)
            for g in range(self.num_skills)
        )

    def reset(self, key: jax.Array) -> MultiTaskState:
        key, sub = jax.random.split(key)
        task_index = self._sample_tasks(sub)
        groups = tuple(self._reset_group(g, task_index[g]) for g in range(self.num_skills))
        obs = jnp.concatenate([s.obs for s in groups])
        n = self.num_envs
        zeros_b = jnp.zeros((n,), bool)
        return MultiTaskState(
            groups=groups,
            task_index=task_index,
            obs=obs,
            final_obs=obs,
            reward=jnp.zeros((n,), jnp.float32),
            done=zeros_b,
            truncated=zeros_b,
            success=zeros_b,
            episode_success=zeros_b,
            physics_nan=zeros_b,
            nonfinite_action=jnp.zeros((n,), jnp.float32),
            task_id=self.task_ids(),
            key=key,
        )

    def step(self, state: MultiTaskState, actions: jax.Array) -> MultiTaskState:
        """Step all instances with actions (N, 4); auto-reset the finished ones."""
        actions = jnp.asarray(actions)
        if actions.shape != (self.num_envs, ACTION_DIM):
            raise ValueError(f"actions must have shape ({self.num_envs}, {ACTION_DIM}), got {actions.shape}")
        n = self.envs_per_skill
        stepped = tuple(
            jax.vmap(self.envs[g].step)(state.groups[g], actions[g * n : (g + 1) * n]) for g in range(self.num_skills)
        )
        cat = lambda f: jnp.concatenate([f(s) for s in stepped])  # noqa: E731
        final_obs = cat(lambda s: s.obs)
        reward = cat(lambda s: s.reward)
        done = cat(lambda s: s.done)
        success = cat(lambda s: s.info["success"] > 0)
        truncated = cat(lambda s: s.info["truncated"] > 0)
        physics_nan = cat(lambda s: s.info["physics_nan"] > 0)
        nonfinite = cat(lambda s: s.info["nonfinite_action"])
        # Episodes that ended on the previous step start over here.
        episode_success = jnp.where(state.done, False, state.episode_success) | success

        key, sub = jax.random.split(state.key)
        new_index = self._sample_tasks(sub)

        def with_resets(_):
            groups, index = [], []
            for g in range(self.num_skills):
                d = stepped[g].done
                fresh = self._reset_group(g, new_index[g])
                groups.append(jax.tree.map(lambda a, b: jnp.where(_bcast(d, a), b, a), stepped[g], fresh))
                index.append(jnp.where(d, new_index[g], state.task_index[g]))
            return tuple(groups), tuple(index)

        def without(_):
            return stepped, state.task_index

        # Episodes mostly end together (every 500 steps): skip the reset work on other steps.
        groups, task_index = jax.lax.cond(jnp.any(done), with_resets, without, None)
        obs = jnp.concatenate([s.obs for s in groups])
        return MultiTaskState(
            groups=groups,
            task_index=task_index,
            obs=obs,
            final_obs=final_obs,
            reward=reward,
            done=done,
            truncated=truncated,
            success=success,
            episode_success=episode_success,
            physics_nan=physics_nan,
            nonfinite_action=nonfinite,
            task_id=state.task_id,
            key=key,
        )


def _bcast(mask, leaf):
    return mask.reshape(mask.shape + (1,) * (leaf.ndim - 1))


def make_multitask(
    bench,
    envs_per_skill: int = 1,
    *,
    split: str = "train",
    skills: Sequence[str] | None = None,
    **make_kwargs,
) -> MultiTaskEnv:
    """Batched env over a benchmark's skills.

    bench: an `envs.benchmarks.Benchmark` (from `envs.benchmark(name, seed)`).
    split: "train" or "test" task sets. skills: optional subset of that split's skills.
    make_kwargs: forwarded to `envs.make` (partially_observable defaults to the benchmark's flag).
    """
    import envs

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if envs_per_skill < 1:
        raise ValueError(f"envs_per_skill must be >= 1, got {envs_per_skill}")
    task_sets = bench.train_tasks if split == "train" else bench.test_tasks
    names = tuple(bench.train_skills if split == "train" else bench.test_skills)
    if skills is not None:
        bad = [s for s in skills if s not in names]
        if bad:
            raise ValueError(f"skills {bad} are not in {bench.name}'s {split} split; valid: {list(names)}")
        names = tuple(skills)
    if not names:
        raise ValueError(f"{bench.name} has no {split} skills")
    make_kwargs.setdefault("partially_observable", bench.partially_observable)
    built = tuple(envs.make(s, **make_kwargs) for s in names)
    tasks = tuple(np.asarray(task_sets[s], np.float32) for s in names)
    return MultiTaskEnv(skills=names, envs=built, tasks=tasks, envs_per_skill=int(envs_per_skill))
