"""Batched multi-task env: N instances of every skill of a benchmark, stepped in one jitted call.

Outputs are concatenated skill-major (instance i of skill s is row s * n + i). Skills whose scenes share
one MJX structure share one vmapped physics call (the step's substeps and the reset's forward pass), with
the model values that differ between them (sizes, poses, masses, contact parameters) passed per instance:
XLA compiles that physics once for the group instead of once per skill, which is most of a multi-task
step's compile time. `make_multitask` pads the scenes of each family of skills (`envs.family.partition`)
to one template so they share a structure (MT10: 2 physics graphs). Per-skill parts (object placement,
observation, reward) stay per skill. Finished instances (truncated at
500 steps, or physics NaN) are reset in place with a task drawn uniformly from that skill's task set
(the benchmark's 50 metaworld rand_vecs), using the key carried in the state.

Resets are deterministic given the task (metaworld's reset is), so `reset` computes the reset state of
every task of every skill's task set once (`reset_pool`: per skill an EnvState batched over its tasks,
carried in the state) and the step's auto-reset only gathers rows of it: the step graph holds no reset
physics (a fraction of the multi-task step's compile time and memory) and costs no reset work at episode
ends. Skills whose reset settle depends on the task take it from metaworld's per-task table
(`Sim.settle_table_only`: the benchmark's task sets are exactly the table's), so no simulated settle is traced.

    menv = make_multitask(envs.benchmark("MT10"), envs_per_skill=8)
    s = menv.reset(key)
    s = jax.jit(menv.step)(s, actions)      # actions (N, 4)
    s.obs, s.reward, s.done, s.success, s.skill_id, s.final_obs

`final_obs` is the observation the step produced before any auto-reset (the true next observation of
the transition, for replay); `obs` is what the policy sees next.

The step is `group_step` per physics group, then `finish` (concatenation and auto-reset); the reset is
`group_reset_pool` per physics group, then `start`. `envs.split.SplitMultiTaskEnv` compiles each of those as
its own executable (for benchmarks whose one-module step is too big to compile, e.g. MT50 on a CPU host).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from mujoco import mjx

from envs.sawyer import ACTION_DIM, OBS_DIM, Env, physics_step


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
    skill_id:    (N,) int32 skill index within the benchmark (for one-hot conditioning).
    key:         PRNG key for task sampling at auto-reset.
    reset_pool:  tuple of per-skill EnvState batched over the skill's task set (leading axis n_tasks):
                 the reset state of every task, gathered at auto-reset (constant during a run); () for
                 envs without one (envs.toy).
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
    skill_id: jax.Array
    key: jax.Array
    reset_pool: tuple = ()


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

    def skill_ids(self) -> jax.Array:
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
    #: True: every skill's step ends with a full forward pass (contacts and forces in the state's data are
    #: the post-step ones); False: only skills that read them (Skill.needs_contacts), others kinematics.
    full_forward: bool = False
    #: Per skill, `jax.jit(envs[g].place_objects)`, made once (`make_multitask`): the reset pool is traced
    #: several times (its shape, then each group's program), and a jitted function keeps its trace in JAX's
    #: cache, so each skill's placement is traced once. None: `envs[g].place_objects`.
    place_fns: tuple[Callable, ...] | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self):
        if self.place_fns is not None and (
            len(self.place_fns) != len(self.envs)
            or any(getattr(f, "__wrapped__", f) != e.place_objects for f, e in zip(self.place_fns, self.envs))
        ):
            raise ValueError(
                "MultiTaskEnv.place_fns must be jax.jit(env.place_objects) of its own envs, in order "
                "(after dataclasses.replace(..., envs=...), pass place_fns=None or new ones)"
            )

    @property
    def num_physics_groups(self) -> int:
        """Number of physics groups (compiled physics graphs); `group_reset_pool` / `group_step` take 0..n-1."""
        return len(self._groups())

    def _groups(self) -> tuple[tuple[tuple[int, ...], tuple[str, ...]], ...]:
        if self.physics_groups is None:
            return tuple(((g,), ()) for g in range(self.num_skills))
        return tuple(zip(self.physics_groups, self.override_fields))

    def _shared(self, fn, members, fields, datas, tasks, *args, sequential: bool = False):
        """Run `fn(model, data, overrides, *args)` vmapped (sequential: `lax.map`ped) over the instances of all
        `members` (skills with one compiled model) in one call; returns the per-member results."""
        base = self.envs[members[0]].sim.mx
        sizes = [jax.tree.leaves(datas[g])[0].shape[0] for g in members]
        starts = np.concatenate([[0], np.cumsum(sizes)])

        def overrides(g, task, n):
            over = task.get("model") or {}
            mx = self.envs[g].sim.mx
            bcast = lambda x: jnp.broadcast_to(x, (n,) + x.shape)  # noqa: E731
            return {f: over[f] if f in over else jax.tree.map(bcast, getattr(mx, f)) for f in fields}

        cat = lambda *xs: jnp.concatenate(xs)  # noqa: E731
        data = jax.tree.map(cat, *[datas[g] for g in members])
        over = jax.tree.map(cat, *[overrides(g, tasks[g], n) for g, n in zip(members, sizes)])
        rest = [jax.tree.map(cat, *[a[g] for g in members]) for a in args]
        if sequential:
            out = jax.lax.map(lambda xs: fn(base, *xs), (data, over, *rest))
        else:
            out = jax.vmap(lambda d, o, *r: fn(base, d, o, *r))(data, over, *rest)
        return {g: jax.tree.map(lambda x, i=i: x[starts[i] : starts[i + 1]], out) for i, g in enumerate(members)}

    def group_reset_pool(self, gi: int, tasks: tuple, *, forward: bool = True) -> tuple:
        """The reset states of physics group gi's members: per member g (in `groups[gi]` order) an EnvState
        batched over tasks[k] (n_tasks_g, rand_vec_size) f32, row i = the reset state of task i.
        forward=False skips the forward pass (no physics; not reset states): `mjx.forward` keeps every leaf's
        shape and dtype, so this traces to the pool's shapes at a fraction of the cost (`reset_pool_shape`)."""
        members, fields = self._groups()[gi]
        # The task sets are constants in `reset`, so the pool is a function of constants: vmapped over them,
        # XLA's constant folding evaluates large parts of the resets at compile time (measured: reach's reset
        # pool did not compile in 5 min; 17 s with a barrier on the task set; 4 skills still 6 min, vs 37 s for
        # the old 4-instance reset). `lax.map` makes every task a loop iteration: nothing per task is a
        # constant, and the compiled body is one instance's reset. Sequential over tasks, once per `reset`.
        place = self.place_fns or tuple(e.place_objects for e in self.envs)
        placed = {g: jax.lax.map(place[g], t) for g, t in zip(members, tasks)}
        datas = {g: p[0] for g, p in placed.items()}
        task_dicts = {g: p[1] for g, p in placed.items()}
        if not forward:
            forwarded = datas
        elif len(members) == 1:
            (g,) = members
            sim = self.envs[g].sim
            forwarded = {
                g: jax.lax.map(
                    lambda dt: mjx.forward(sim.mx.replace(**(dt[1].get("model") or {})), dt[0]),
                    (datas[g], task_dicts[g]),
                )
            }
        else:
            fwd = lambda m, d, o: mjx.forward(m.replace(**o) if o else m, d)  # noqa: E731
            forwarded = self._shared(fwd, members, fields, datas, task_dicts, sequential=True)
        return tuple(
            jax.lax.map(lambda dt, g=g: self.envs[g].finish_reset(*dt), (forwarded[g], task_dicts[g])) for g in members
        )

    def skill_order(self, per_group) -> tuple:
        """Per-group outputs (per_group[gi][k]: member k of physics group gi) as a tuple in skill order."""
        out = {}
        for (members, _), outputs in zip(self._groups(), per_group):
            out.update(zip(members, outputs))
        return tuple(out[g] for g in range(self.num_skills))

    def group_tasks(self, gi: int) -> tuple:
        """The task sets of physics group gi's members, (n_tasks, rand_vec_size) f32 each."""
        return tuple(jnp.asarray(self.tasks[g], jnp.float32) for g in self._groups()[gi][0])

    def reset_pool(self) -> tuple:
        """The reset state of every task: per skill g an EnvState batched over `tasks[g]` (leading axis
        n_tasks, row i = task i). Pure and deterministic; `reset` computes it, `step` gathers from it."""
        return self.skill_order([self.group_reset_pool(gi, self.group_tasks(gi)) for gi in range(len(self._groups()))])

    def reset_pool_shape(self) -> tuple:
        """`jax.eval_shape(self.reset_pool)`, traced without the forward passes (`group_reset_pool`)."""
        groups = range(len(self._groups()))
        return jax.eval_shape(
            lambda: self.skill_order([self.group_reset_pool(gi, self.group_tasks(gi), forward=False) for gi in groups])
        )

    @staticmethod
    def _gather(pool: tuple, task_index: tuple) -> tuple:
        """Per skill, the rows task_index[g] (envs_per_skill,) of the reset pool."""
        return tuple(jax.tree.map(lambda x, i=i: x[i], p) for p, i in zip(pool, task_index))

    def group_step(self, gi: int, states: tuple, actions: tuple) -> tuple:
        """Physics group gi's members stepped (no auto-reset): states[k] the batched EnvState of member k (in
        `groups[gi]` order, leading axis envs_per_skill), actions[k] its (envs_per_skill, 4) actions."""
        members, fields = self._groups()[gi]
        n = self.envs_per_skill
        sanitized = {g: jax.vmap(self.envs[g].sanitize_action)(a) for g, a in zip(members, actions)}
        datas = {g: s.data for g, s in zip(members, states)}
        tasks = {g: s.task for g, s in zip(members, states)}
        post = self.full_forward or any(self.envs[g].skill.needs_contacts for g in members)
        if len(members) == 1:
            (g,) = members
            fn = lambda d, a, t, env=self.envs[g]: env.physics(d, a, t, post)  # noqa: E731
            stepped_data = {g: jax.vmap(fn)(datas[g], sanitized[g][0], tasks[g])}
        else:
            env0 = self.envs[members[0]]  # shared_physics_groups: every member has env0's frame_skip
            acts = {g: sanitized[g][0] for g in members}
            lo = {g: jnp.broadcast_to(jnp.asarray(self.envs[g].skill.mocap_bounds[0]), (n, 3)) for g in members}
            hi = {g: jnp.broadcast_to(jnp.asarray(self.envs[g].skill.mocap_bounds[1]), (n, 3)) for g in members}
            fn = lambda m, d, o, a, l, h, fs=env0.frame_skip: physics_step(m, d, a, o, l, h, fs, post)  # noqa: E731
            stepped_data = self._shared(fn, members, fields, datas, tasks, acts, lo, hi)
        return tuple(
            jax.vmap(self.envs[g].finish_step)(s, sanitized[g][0], sanitized[g][1], stepped_data[g])
            for g, s in zip(members, states)
        )

    def group_inputs(self, gi: int, groups: tuple, actions: jax.Array) -> tuple[tuple, tuple]:
        """`group_step`'s arguments for physics group gi: its members' states and rows of actions (N, 4)."""
        n, members = self.envs_per_skill, self._groups()[gi][0]
        return tuple(groups[g] for g in members), tuple(actions[g * n : (g + 1) * n] for g in members)

    def _step_all(self, groups: tuple, actions: jax.Array) -> tuple:
        """Every skill's batched EnvState stepped with its rows of actions (N, 4)."""
        return self.skill_order(
            [self.group_step(gi, *self.group_inputs(gi, groups, actions)) for gi in range(len(self._groups()))]
        )

    def _sample_tasks(self, key: jax.Array) -> tuple:
        keys = jax.random.split(key, self.num_skills)
        return tuple(
            jax.random.randint(keys[g], (self.envs_per_skill,), 0, len(self.tasks[g]), dtype=jnp.int32)
            for g in range(self.num_skills)
        )

    def reset(self, key: jax.Array) -> MultiTaskState:
        """Every instance starts an episode of a task drawn uniformly from its skill's task set."""
        return self.start(key, self.reset_pool())

    def start(self, key: jax.Array, pool: tuple) -> MultiTaskState:
        """`reset` given the reset pool (per skill an EnvState over its task set, as `reset_pool` returns)."""
        self._check_pool(pool)
        key, sub = jax.random.split(key)
        task_index = self._sample_tasks(sub)
        groups = self._gather(pool, task_index)
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
            skill_id=self.skill_ids(),
            key=key,
            reset_pool=pool,
        )

    def _check_pool(self, pool: tuple) -> None:
        if len(pool) != self.num_skills:
            raise ValueError(
                f"the reset pool has {len(pool)} skills, this env {self.num_skills}: "
                "pass a state made by this env's reset"
            )

    def _check_actions(self, actions) -> jax.Array:
        actions = jnp.asarray(actions)
        if actions.shape != (self.num_envs, ACTION_DIM):
            raise ValueError(f"actions must have shape ({self.num_envs}, {ACTION_DIM}), got {actions.shape}")
        return actions

    def step(self, state: MultiTaskState, actions: jax.Array) -> MultiTaskState:
        """Step all instances with actions (N, 4); auto-reset the finished ones."""
        actions = self._check_actions(actions)
        return self.finish(state, self._step_all(state.groups, actions))

    def finish(self, state: MultiTaskState, stepped: tuple) -> MultiTaskState:
        """The rest of `step` given every skill's stepped EnvState (`group_step`'s outputs in skill order):
        the step's outputs concatenated, then auto-reset of the finished instances from the reset pool."""
        self._check_pool(state.reset_pool)
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
        # Auto-reset: finished instances take their new task's precomputed reset state (a gather).
        fresh_all = self._gather(state.reset_pool, new_index)
        groups, index = [], []
        for g in range(self.num_skills):
            d = stepped[g].done
            groups.append(jax.tree.map(lambda a, b, d=d: jnp.where(_bcast(d, a), b, a), stepped[g], fresh_all[g]))
            index.append(jnp.where(d, new_index[g], state.task_index[g]))
        groups, task_index = tuple(groups), tuple(index)
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
            skill_id=state.skill_id,
            key=key,
            reset_pool=state.reset_pool,
        )

    def restart(self, state: MultiTaskState, mask: jax.Array, task_index: tuple) -> MultiTaskState:
        """Rows where ``mask`` (N,) bool start a fresh episode of the tasks ``task_index`` (this env's
        layout, as in ``state.task_index``: per skill (envs_per_skill,) int32) from the reset pool (a gather,
        no physics); other rows are unchanged. The step's outputs (reward, done, final_obs, ...) stay; ``obs``
        is the new episode's first. Meta-RL trials use it to run several episodes of one task."""
        self._check_pool(state.reset_pool)
        fresh = self._gather(state.reset_pool, task_index)
        n = self.envs_per_skill
        groups, index = [], []
        for g in range(self.num_skills):
            m = mask[g * n : (g + 1) * n]
            groups.append(jax.tree.map(lambda a, b, m=m: jnp.where(_bcast(m, a), b, a), state.groups[g], fresh[g]))
            index.append(jnp.where(m, task_index[g], state.task_index[g]))
        obs = jnp.concatenate([s.obs for s in groups])
        return state.replace(groups=tuple(groups), task_index=tuple(index), obs=obs)


def _bcast(mask, leaf):
    return mask.reshape(mask.shape + (1,) * (leaf.ndim - 1))


#: mjx.Model fields that MJX's jax physics never reads: names, "same frame" shortcuts (MuJoCo C only), geom
#: condim and body margin (automatic collisions only: every contact here is an explicit pair, with its own
#: pair_dim and pair_margin), the height-field bound, and the model's (traced) size record. Skills may differ
#: in them and still share a compiled physics graph; every other static field must be equal.
IGNORED_FIELDS = frozenset(
    {
        "names",
        "body_sameframe",
        "body_simple",
        "geom_sameframe",
        "site_sameframe",
        "geom_condim",
        "body_margin",
        "_impl.geom_rbound_hfield",
        "_sizes",
    }
)


def _ignored(path: str) -> bool:
    return path in IGNORED_FIELDS or path.startswith("name_")


def _model_leaves(x, path=""):
    """(dotted path, value) of every field of an mjx.Model (nested dataclasses walked)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            yield from _model_leaves(getattr(x, f.name), f"{path}.{f.name}" if path else f.name)
    else:
        yield path, x


def model_difference(a, b) -> frozenset[str] | None:
    """Top-level mjx.Model fields whose traced (jax array) values differ between models a and b, or None when
    they differ in structure (a static field outside IGNORED_FIELDS, a traced field's shape or dtype,
    or a traced field nested in `opt` / `_impl`) and can never share a compiled graph."""
    if a is b:
        return frozenset()
    la, lb = list(_model_leaves(a)), list(_model_leaves(b))
    if [p for p, _ in la] != [p for p, _ in lb]:
        return None
    differ = set()
    for (path, x), (_, y) in zip(la, lb):
        if _ignored(path):
            continue
        if not isinstance(x, jax.Array):
            if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
                same = np.shape(x) == np.shape(y) and np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
            else:
                same = x == y
            if not same:
                return None
            continue
        if not isinstance(y, jax.Array) or x.shape != y.shape or x.dtype != y.dtype:
            return None
        if not np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True):
            top = path.split(".")[0]
            if top in ("opt", "_impl"):
                return None
            differ.add(top)
    return frozenset(differ)


def _override_fields(env: Env, place: Callable | None = None) -> tuple[str, ...]:
    """The mjx.Model fields env's reset overrides per instance (task["model"] keys), found by tracing
    `place` (default: env.place_objects)."""
    place = place or env.place_objects
    _, task = jax.eval_shape(place, jax.ShapeDtypeStruct((env.rand_vec_size,), jnp.float32))
    return tuple(sorted((task.get("model") or {}).keys()))


def shared_physics_groups(
    built: Sequence[Env], place_fns: Sequence[Callable] | None = None
) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[str, ...], ...]]:
    """Partition env indices into groups that can share one physics call: the same frame_skip and
    compiled models of one structure (`model_difference` not None). Returns (groups, per group the model fields passed
    per instance: those its members' resets override plus those whose values differ between members).
    place_fns: per env, the function traced for its overrides (default: its place_objects)."""
    groups: list[list[int]] = []
    differing: list[set[str]] = []
    for i, env in enumerate(built):
        for grp, diff in zip(groups, differing):
            first = built[grp[0]]
            d = model_difference(first.sim.mx, env.sim.mx) if first.frame_skip == env.frame_skip else None
            if d is not None:
                grp.append(i)
                diff.update(d)
                break
        else:
            groups.append([i])
            differing.append(set())
    fields = []
    for grp, diff in zip(groups, differing):
        fields.append(
            tuple(sorted(diff | {f for i in grp for f in _override_fields(built[i], place_fns and place_fns[i])}))
            if len(grp) > 1
            else ()
        )
    return tuple(tuple(g) for g in groups), tuple(fields)


def _table_only(env: Env, task_set) -> Env:
    """env with `Sim.settle_table_only` where it has a per-task settle table covering all of `task_set` (its
    resets then trace no simulated settle); env itself otherwise."""
    table = env.sim.settle_table
    if table is None:
        return env
    have = {tuple(r) for r in np.asarray(table["rand_vec"], np.float32)}
    missing = [i for i, r in enumerate(np.asarray(task_set, np.float32)) if tuple(r) not in have]
    if missing:
        raise RuntimeError(f"{env.name}: tasks {missing} of the task set are not in the env's settle table")
    return dataclasses.replace(env, sim=dataclasses.replace(env.sim, settle_table_only=True))


def make_multitask(
    bench,
    envs_per_skill: int = 1,
    *,
    split: str = "train",
    skills: Sequence[str] | None = None,
    share_physics: bool = True,
    full_forward: bool = False,
    **make_kwargs,
) -> MultiTaskEnv:
    """Batched env over a benchmark's skills.

    bench: an `envs.benchmarks.Benchmark` (from `envs.benchmark(name, seed)`).
    split: "train" or "test" task sets. skills: optional subset of that split's skills.
    share_physics: pad the scenes of skills that can share a structure to their family's template
        (`envs.family.partition`) and step each family in one physics call with its members' model values per
        instance (fewer compiled graphs; each skill's dynamics are its own scene's). False compiles every
        skill's own (lean) scene separately.
    full_forward: end every step with a full forward pass, also for skills whose reward reads no contact data
        (they otherwise get kinematics only: a smaller step graph, the same obs / reward / trajectory).
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
    if "family" in make_kwargs:
        raise ValueError("make_multitask chooses each skill's family itself (share_physics); do not pass family")
    fam = {}
    if share_physics:
        from envs.family import partition

        fam = {s: f for f in partition(names) if len(f) > 1 for s in f}
    built = tuple(
        _table_only(envs.make(s, settle_tasks=task_sets[s], family=fam.get(s), **make_kwargs), task_sets[s])
        for s in names
    )
    tasks = tuple(np.asarray(task_sets[s], np.float32) for s in names)
    place_fns = tuple(jax.jit(e.place_objects) for e in built)
    groups, fields = shared_physics_groups(built, place_fns) if share_physics else (None, None)
    return MultiTaskEnv(
        skills=names,
        envs=built,
        tasks=tasks,
        envs_per_skill=int(envs_per_skill),
        physics_groups=groups,
        override_fields=fields,
        full_forward=bool(full_forward),
        place_fns=place_fns,
    )
