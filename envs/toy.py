"""A tiny pure-JAX point-reach env with the `envs.multitask` interface, for fast tests of the trainer.

Not a Meta-World skill: it exists so that training-loop tests compile in seconds instead of the minutes
an MJX scene takes. Select it in `jaxmeta` with the benchmark name ``"toy/<num_skills>"``.

Dynamics: a point "hand" in the box ``[-1, 1]^3`` starts at the origin and moves by ``0.1 * action[:3]``
per step (``action[3]`` is ignored). Skill ``s`` has 50 goals (its task set) drawn once from a fixed
seed, around a skill-specific centre; one is drawn uniformly at every (auto-)reset.
Reward ``= 1 - tanh(3 * |hand - goal|)`` in ``(0, 1]``; success when ``|hand - goal| <= 0.05``.
Observation (39,) laid out like Meta-World's: hand ``[0:3]``, previous hand ``[18:21]``, goal
``[36:39]``, zeros elsewhere. Episodes are truncated after ``max_path_length`` steps (never terminate).

    menv = make_toy_multitask(num_skills=2, envs_per_skill=4, max_path_length=50)
    s = menv.reset(key); s = menv.step(s, actions)      # same fields as envs.multitask.MultiTaskState
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.multitask import MultiTaskState, SkillMajorLayout

OBS_DIM = 39
ACTION_DIM = 4
N_TASKS_PER_SKILL = 50
STEP_SIZE = 0.1
SUCCESS_RADIUS = 0.05


@struct.dataclass
class ToyState:
    """Per-instance state (leading axis N)."""

    pos: jax.Array  # (N, 3)
    prev: jax.Array  # (N, 3)
    goal: jax.Array  # (N, 3)
    steps: jax.Array  # (N,) int32


def _obs(pos: jax.Array, prev: jax.Array, goal: jax.Array) -> jax.Array:
    n = pos.shape[0]
    z = jnp.zeros((n, 15), jnp.float32)
    return jnp.concatenate([pos, z, prev, z, goal], axis=1).astype(jnp.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class ToyMultiTaskEnv(SkillMajorLayout):
    """`num_skills` point-reach skills x `envs_per_skill` instances (hashable by identity)."""

    skills: tuple[str, ...]
    tasks: tuple[np.ndarray, ...]  # per skill (50, 3) goals
    envs_per_skill: int
    max_path_length: int

    def _sample_goals(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        idx = jax.random.randint(key, (self.num_envs,), 0, N_TASKS_PER_SKILL, dtype=jnp.int32)
        table = jnp.asarray(np.stack(self.tasks), jnp.float32)  # (S, 50, 3)
        return idx, table[self.skill_ids(), idx]

    def reset_pool(self) -> tuple:
        """The toy env has no precomputed reset states (its resets are a goal lookup): ()."""
        return ()

    def start(self, key: jax.Array, pool: tuple = ()) -> MultiTaskState:
        """`reset` (the MJX multi-task env's signature; the pool is empty)."""
        del pool
        return self.reset(key)

    def reset(self, key: jax.Array) -> MultiTaskState:
        key, sub = jax.random.split(key)
        idx, goal = self._sample_goals(sub)
        n = self.num_envs
        pos = jnp.zeros((n, 3), jnp.float32)
        obs = _obs(pos, pos, goal)
        zeros_b = jnp.zeros((n,), bool)
        return MultiTaskState(
            groups=(ToyState(pos=pos, prev=pos, goal=goal, steps=jnp.zeros((n,), jnp.int32)),),
            task_index=(idx,),
            obs=obs,
            final_obs=obs,
            reward=jnp.zeros((n,), jnp.float32),
            done=zeros_b,
            truncated=zeros_b,
            success=zeros_b,
            episode_success=zeros_b,
            physics_nan=zeros_b,
            nonfinite_action=jnp.zeros((n,), jnp.float32),
            skill_id=self.skill_ids(),
            key=key,
        )

    def step(self, state: MultiTaskState, actions: jax.Array) -> MultiTaskState:
        actions = jnp.asarray(actions, jnp.float32)
        if actions.shape != (self.num_envs, ACTION_DIM):
            raise ValueError(f"actions must have shape ({self.num_envs}, {ACTION_DIM}), got {actions.shape}")
        finite = jnp.isfinite(actions)
        nonfinite = jnp.sum(~finite, axis=1).astype(jnp.float32)
        actions = jnp.clip(jnp.where(finite, actions, 0.0), -1.0, 1.0)
        (g,) = state.groups
        pos = jnp.clip(g.pos + STEP_SIZE * actions[:, :3], -1.0, 1.0)
        dist = jnp.linalg.norm(pos - g.goal, axis=1)
        reward = 1.0 - jnp.tanh(3.0 * dist)
        success = dist <= SUCCESS_RADIUS
        steps = g.steps + 1
        done = steps >= self.max_path_length
        final_obs = _obs(pos, g.pos, g.goal)
        episode_success = jnp.where(state.done, False, state.episode_success) | success

        key, sub = jax.random.split(state.key)
        new_idx, new_goal = self._sample_goals(sub)
        d3 = done[:, None]
        pos_n = jnp.where(d3, 0.0, pos)
        prev_n = jnp.where(d3, 0.0, g.pos)
        goal_n = jnp.where(d3, new_goal, g.goal)
        steps_n = jnp.where(done, 0, steps)
        obs = jnp.where(d3, _obs(pos_n, pos_n, goal_n), final_obs)
        (old_idx,) = state.task_index
        return MultiTaskState(
            groups=(ToyState(pos=pos_n, prev=prev_n, goal=goal_n, steps=steps_n),),
            task_index=(jnp.where(done, new_idx, old_idx),),
            obs=obs,
            final_obs=final_obs,
            reward=reward.astype(jnp.float32),
            done=done,
            truncated=done,
            success=success,
            episode_success=episode_success,
            physics_nan=jnp.zeros_like(done),
            nonfinite_action=nonfinite,
            skill_id=state.skill_id,
            key=key,
        )

    def restart(self, state: MultiTaskState, mask: jax.Array, task_index: tuple) -> MultiTaskState:
        """Rows where ``mask`` (N,) start a fresh episode of goal ``task_index[0]`` (N,) (`envs.multitask`'s
        `restart`)."""
        (g,) = state.groups
        (old,) = state.task_index
        idx = jnp.where(mask, task_index[0], old)
        table = jnp.asarray(np.stack(self.tasks), jnp.float32)
        m3 = mask[:, None]
        goal = jnp.where(m3, table[self.skill_ids(), idx], g.goal)
        pos = jnp.where(m3, 0.0, g.pos)
        prev = jnp.where(m3, 0.0, g.prev)
        steps = jnp.where(mask, 0, g.steps)
        obs = jnp.where(m3, _obs(pos, pos, goal), state.obs)
        return state.replace(groups=(ToyState(pos=pos, prev=prev, goal=goal, steps=steps),), task_index=(idx,), obs=obs)


def make_toy_multitask(
    num_skills: int = 1, envs_per_skill: int = 1, max_path_length: int = 500, seed: int = 0
) -> ToyMultiTaskEnv:
    """`num_skills` toy skills (``"toy-<i>"``), each with 50 goals drawn from ``seed``."""
    if not isinstance(num_skills, int) or num_skills < 1:
        raise ValueError(f"num_skills must be a positive int, got {num_skills!r}")
    if not isinstance(envs_per_skill, int) or envs_per_skill < 1:
        raise ValueError(f"envs_per_skill must be >= 1, got {envs_per_skill!r}")
    if not isinstance(max_path_length, int) or max_path_length < 1:
        raise ValueError(f"max_path_length must be >= 1, got {max_path_length!r}")
    rng = np.random.RandomState(seed)
    tasks = []
    for s in range(num_skills):
        centre = rng.uniform(-0.5, 0.5, size=3)
        goals = np.clip(centre + rng.uniform(-0.2, 0.2, size=(N_TASKS_PER_SKILL, 3)), -0.9, 0.9)
        goals = goals.astype(np.float32)
        goals.setflags(write=False)
        tasks.append(goals)
    return ToyMultiTaskEnv(
        skills=tuple(f"toy-{i}" for i in range(num_skills)),
        tasks=tuple(tasks),
        envs_per_skill=int(envs_per_skill),
        max_path_length=int(max_path_length),
    )
