"""Task sets of a run: which benchmark split / task rows the envs run, and their conditioning skill ids.

    env = build_env("ML1/reach-v3", split="test", task_indices=(0,), skill_ids=(0,), envs_per_skill=8,
                    max_path_length=200, seed=0)

- ``split="test"``: the benchmark's held-out task sets (`envs.Benchmark.test_tasks`: ML1 -> new
  instances of the skill, ML10 -> new skills). For ``toy/<n>`` the test split is the next n toy skills
  ``toy-n .. toy-(2n-1)``, exactly as they are in ``toy/<2n>`` (new skills for fine-tuning tests).
- ``task_indices``: keep only these rows of every skill's task set (e.g. one held-out ML1 instance, or
  toy tasks 0-24 for pretraining and 25-49 held out).
- ``skill_ids``: the conditioning skill id of each env skill. The multi-task envs number their skills
  0..n-1; when a run's skill space is larger (fine-tuning on new skills keeps the source's ids and appends
  the new ones) the env is wrapped by `SkillIdEnv`, which rewrites ``state.skill_id`` at reset (the envs
  carry it unchanged through ``step``). Identity ids return the env itself (same programs as before).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["SkillIdEnv", "build_env"]


@dataclasses.dataclass(frozen=True, eq=False)
class SkillIdEnv:
    """A batched multi-task env whose skill g reports conditioning skill id ``ids[g]`` (hashable by
    identity). Everything else is the wrapped env's."""

    env: Any
    ids: tuple[int, ...]

    def __getattr__(self, name):  # skills, num_skills, num_envs, envs_per_skill, sizes, tasks, ...
        return getattr(self.env, name)

    def skill_ids(self):
        return jnp.asarray(self.ids, jnp.int32)[self.env.skill_ids()]

    def reset(self, key):
        s = self.env.reset(key)
        return s.replace(skill_id=jnp.asarray(self.ids, jnp.int32)[s.skill_id])

    def reset_pool(self):
        return self.env.reset_pool()

    def start(self, key, pool):
        s = self.env.start(key, pool)
        return s.replace(skill_id=jnp.asarray(self.ids, jnp.int32)[s.skill_id])

    def step(self, state, actions):
        return self.env.step(state, actions)


def build_env(
    benchmark: str,
    *,
    split: str = "train",
    task_indices: tuple[int, ...] | None = None,
    skill_ids: tuple[int, ...] | None = None,
    envs_per_skill: int = 1,
    max_path_length: int = 500,
    seed: int = 0,
):
    """The batched env (MJX `envs.multitask` or `envs.toy`) of a benchmark split (see module docstring)."""
    if benchmark.startswith("toy/"):
        from envs.toy import make_toy_multitask

        n = int(benchmark.split("/", 1)[1])
        if split == "train":
            env = make_toy_multitask(n, envs_per_skill, max_path_length, seed=seed)
        else:
            full = make_toy_multitask(2 * n, envs_per_skill, max_path_length, seed=seed)
            env = dataclasses.replace(full, skills=full.skills[n:], tasks=full.tasks[n:])
    else:
        import envs
        from envs.multitask import make_multitask

        bench = envs.benchmark(benchmark, seed)
        env = make_multitask(bench, envs_per_skill, split=split, max_path_length=max_path_length)
    if task_indices is not None:
        idx = np.asarray(task_indices, np.int64)
        for t in env.tasks:
            if idx.max() >= len(t):
                raise ValueError(
                    f"task_indices {tuple(task_indices)} out of range: {benchmark} has {len(t)} tasks per skill"
                )
        env = dataclasses.replace(env, tasks=tuple(np.ascontiguousarray(t[idx]) for t in env.tasks))
    if skill_ids is not None:
        ids = tuple(int(i) for i in skill_ids)
        if len(ids) != env.num_skills:
            raise ValueError(f"skill_ids {ids} must give one id per env skill {tuple(env.skills)}")
        if ids != tuple(range(env.num_skills)):
            env = SkillIdEnv(env, ids)
    return env


def __getattr__(name: str):
    if name == "TaskIdEnv":  # (renamed, issue 18: docs/glossary.md)
        import warnings

        warnings.warn("jaxmeta.tasks.TaskIdEnv is now SkillIdEnv", DeprecationWarning, stacklevel=2)
        return SkillIdEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
