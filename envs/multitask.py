"""Batched multi-task env: N instances of every skill of a benchmark, stepped in one jitted call.

Skills have different scenes, so each skill is its own vmapped group inside one function; outputs are
concatenated skill-major (instance i of skill s is row s * n + i). Skills whose scenes compile to the
same MJX model up to goal-site and body placements (e.g. window-open and window-close, push and
pick-place) share one vmapped physics call (the step's substeps
and the reset's forward pass): XLA compiles that physics once for the group instead of once per skill,
which is most of a multi-task step's compile time. Per-skill parts (object placement, observation,
reward) stay per skill. Finished instances (truncated at
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
from mujoco import mjx

from envs.sawyer import ACTION_DIM, OBS_DIM, Env, EnvState, physics_step


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


class SkillMajorLayout:
    """Sizes and task ids of a batched env whose N = num_skills * envs_per_skill instances are laid out
    skill-major (needs `skills` and `envs_per_skill` attributes); shared by MultiTaskEnv and envs.toy."""

    skills: tuple[str, ...]
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


@dataclasses.dataclass(frozen=True, eq=False)
class MultiTaskEnv(SkillMajorLayout):
    """N instances per skill of a set of skills with their task sets (hashable by identity)."""

    skills: tuple[str, ...]
    envs: tuple[Env, ...]
    tasks: tuple[np.ndarray, ...]  # per skill (n_tasks, rand_vec_size)
    envs_per_skill: int
    #: Partition of skill indices into groups stepped by one shared physics call (same compiled model);
    #: None: every skill alone. `make_multitask` fills it from `shared_physics_groups`.
    physics_groups: tuple[tuple[int, ...], ...] | None = None
    #: Per group: the model fields some member overrides per instance (task["model"] keys); members
    #: that do not override a field pass the shared model's value.
    override_fields: tuple[tuple[str, ...], ...] | None = None

    def _groups(self) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
        if self.physics_groups is None:
            return tuple(((g,), ()) for g in range(self.num_skills))
        return tuple(zip(self.physics_groups, self.override_fields))

    def _shared(self, fn, members, fields, datas, tasks, *args):
        """Run `fn(model, data, overrides, *args)` vmapped over the instances of all `members` (skills
        with one compiled model) in one call; returns the per-member results."""
        base = self.envs[members[0]].sim.mx
        n = self.envs_per_skill

        def overrides(g, task):
            over = task.get("model") or {}
            mx = self.envs[g].sim.mx
            return {f: over[f] if f in over else jnp.broadcast_to(getattr(mx, f), (n,) + getattr(mx, f).shape)
                    for f in fields}

        cat = lambda *xs: jnp.concatenate(xs)  # noqa: E731
        data = jax.tree.map(cat, *[datas[g] for g in members])
        over = jax.tree.map(cat, *[overrides(g, tasks[g]) for g in members])
        rest = [jax.tree.map(cat, *[a[g] for g in members]) for a in args]
        out = jax.vmap(lambda d, o, *r: fn(base, d, o, *r))(data, over, *rest)
        return {g: jax.tree.map(lambda x, i=i: x[i * n : (i + 1) * n], out) for i, g in enumerate(members)}

    def _reset_all(self, task_index: tuple) -> tuple:
        """Fresh states for every skill: task_index[g] (envs_per_skill,) picks rows of skill g's task set."""
        placed = {}
        for g in range(self.num_skills):
            env, tasks = self.envs[g], jnp.asarray(self.tasks[g], jnp.float32)
            placed[g] = jax.vmap(lambda i, env=env, tasks=tasks: env.place_objects(tasks[i]))(task_index[g])
        datas = {g: p[0] for g, p in placed.items()}
        tasks = {g: p[1] for g, p in placed.items()}
        forwarded = {}
        for members, fields in self._groups():
            if len(members) == 1:
                (g,) = members
                sim = self.envs[g].sim
                forwarded[g] = jax.vmap(lambda d, t, sim=sim: mjx.forward(sim.mx.replace(**(t.get("model") or {})), d))(
                    datas[g], tasks[g]
                )
            else:
                fwd = lambda m, d, o: mjx.forward(m.replace(**o) if o else m, d)  # noqa: E731
                forwarded.update(self._shared(fwd, members, fields, datas, tasks))
        return tuple(jax.vmap(self.envs[g].finish_reset)(forwarded[g], tasks[g]) for g in range(self.num_skills))

    def _step_all(self, groups: tuple, actions: jax.Array) -> tuple:
        """Every skill's batched EnvState stepped with its rows of actions (N, 4)."""
        n = self.envs_per_skill
        sanitized = {g: jax.vmap(self.envs[g].sanitize_action)(actions[g * n : (g + 1) * n])
                     for g in range(self.num_skills)}
        datas = {g: groups[g].data for g in range(self.num_skills)}
        tasks = {g: groups[g].task for g in range(self.num_skills)}
        stepped_data = {}
        for members, fields in self._groups():
            if len(members) == 1:
                (g,) = members
                stepped_data[g] = jax.vmap(self.envs[g].physics)(datas[g], sanitized[g][0], tasks[g])
                continue
            env0 = self.envs[members[0]]  # shared_physics_groups: every member has env0's frame_skip
            acts = {g: sanitized[g][0] for g in members}
            lo = {g: jnp.broadcast_to(jnp.asarray(self.envs[g].skill.mocap_bounds[0]), (n, 3)) for g in members}
            hi = {g: jnp.broadcast_to(jnp.asarray(self.envs[g].skill.mocap_bounds[1]), (n, 3)) for g in members}
            fn = lambda m, d, o, a, l, h, fs=env0.frame_skip: physics_step(m, d, a, o, l, h, fs)  # noqa: E731
            stepped_data.update(self._shared(fn, members, fields, datas, tasks, acts, lo, hi))
        return tuple(
            jax.vmap(self.envs[g].finish_step)(groups[g], sanitized[g][0], sanitized[g][1], stepped_data[g])
            for g in range(self.num_skills)
        )

    def _sample_tasks(self, key: jax.Array) -> tuple:
        keys = jax.random.split(key, self.num_skills)
        return tuple(
            jax.random.randint(keys[g], (self.envs_per_skill,), 0, len(self.tasks[g]), dtype=jnp.int32)
            for g in range(self.num_skills)
        )

    def reset(self, key: jax.Array) -> MultiTaskState:
        key, sub = jax.random.split(key)
        task_index = self._sample_tasks(sub)
        groups = self._reset_all(task_index)
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
        stepped = self._step_all(state.groups, actions)
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
            fresh_all = self._reset_all(new_index)
            for g in range(self.num_skills):
                d = stepped[g].done
                fresh = fresh_all[g]
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


#: mjx.Model fields that may differ between skills sharing one physics call: each member passes its own
#: values per instance (as with reset-time overrides). Goal sites and body placements are traced arrays in
#: MJX's kinematics; anything else (geoms, contact pairs, solver options, sizes) must be equal.
PER_INSTANCE_FIELDS = frozenset({"site_pos", "site_quat", "body_pos", "body_quat"})


def model_difference(a, b) -> frozenset[str] | None:
    """Names of the top-level mjx.Model fields whose values differ between models a and b, or None when
    they differ in structure (pytree, shapes, dtypes) and can never share a compiled graph."""
    if a is b:
        return frozenset()
    la, ta = jax.tree_util.tree_flatten_with_path(a)
    lb, tb = jax.tree_util.tree_flatten_with_path(b)
    if ta != tb or len(la) != len(lb):
        return None
    differ = set()
    for (path, x), (_, y) in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return None
        if not np.array_equal(x, y, equal_nan=True):
            differ.add(jax.tree_util.keystr(path).lstrip("."))
    return frozenset(differ)


def _override_fields(env: Env) -> tuple[str, ...]:
    """The mjx.Model fields env's reset overrides per instance (task["model"] keys), found by tracing."""
    _, task = jax.eval_shape(env.place_objects, jax.ShapeDtypeStruct((env.rand_vec_size,), jnp.float32))
    return tuple(sorted((task.get("model") or {}).keys()))


def shared_physics_groups(built: Sequence[Env]) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[str, ...], ...]]:
    """Partition env indices into groups that can share one physics call: the same frame_skip and
    compiled models equal but for PER_INSTANCE_FIELDS. Returns (groups, per group the model fields passed
    per instance: those its members' resets override plus those whose values differ between members)."""
    groups: list[list[int]] = []
    differing: list[set[str]] = []
    for i, env in enumerate(built):
        for grp, diff in zip(groups, differing):
            first = built[grp[0]]
            d = model_difference(first.sim.mx, env.sim.mx) if first.frame_skip == env.frame_skip else None
            if d is not None and d <= PER_INSTANCE_FIELDS:
                grp.append(i)
                diff.update(d)
                break
        else:
            groups.append([i])
            differing.append(set())
    fields = []
    for grp, diff in zip(groups, differing):
        fields.append(tuple(sorted(diff | {f for i in grp for f in _override_fields(built[i])})) if len(grp) > 1 else ())
    return tuple(tuple(g) for g in groups), tuple(fields)


def make_multitask(
    bench,
    envs_per_skill: int = 1,
    *,
    split: str = "train",
    skills: Sequence[str] | None = None,
    share_physics: bool = True,
    **make_kwargs,
) -> MultiTaskEnv:
    """Batched env over a benchmark's skills.

    bench: an `envs.benchmarks.Benchmark` (from `envs.benchmark(name, seed)`).
    split: "train" or "test" task sets. skills: optional subset of that split's skills.
    share_physics: step skills whose scenes compile to the same model (up to PER_INSTANCE_FIELDS) in one
        physics call (fewer compiled graphs; results are the same). False compiles every skill's physics separately.
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
    if "settle_tasks" in make_kwargs:
        raise ValueError("make_multitask sets settle_tasks itself (the benchmark's task sets); do not pass it")
    make_kwargs.setdefault("partially_observable", bench.partially_observable)
    # settle_tasks: metaworld's exact reset states of these tasks for skills whose settle depends on the task
    built = tuple(envs.make(s, settle_tasks=task_sets[s], **make_kwargs) for s in names)
    tasks = tuple(np.asarray(task_sets[s], np.float32) for s in names)
    groups, fields = shared_physics_groups(built) if share_physics else (None, None)
    return MultiTaskEnv(
        skills=names, envs=built, tasks=tasks, envs_per_skill=int(envs_per_skill),
        physics_groups=groups, override_fields=fields,
    )
