"""A multi-task env compiled as several executables: one per physics group, plus small ones to join them.

`jax.jit(menv.step)` is one XLA module holding every physics graph of the benchmark (MT50: 38 graphs for 50
skills, after sharing). XLA:CPU's compile time and memory for such a module grow faster than the number of
graphs (docs/throughput.md: on the 2-core CPU 2 graphs 57 s, MT10's 8 graphs 291 s and +3.4 GB; 47 of MT50's
skills in 35 graphs were OOM-killed at 21.5 GB after ~40 min; split, MT50 compiles in 24 min at 16.9 GB). `SplitMultiTaskEnv` runs the same `reset` / `step` as a composition of
separately compiled executables, each as small as one physics group:

* step: per physics group `MultiTaskEnv.group_step` (its members' physics and rewards), then one
  `MultiTaskEnv.finish` (outputs concatenated, auto-reset gathered from the reset pool);
* reset: per physics group `MultiTaskEnv.group_reset_pool` (its members' reset states of every task), then
  one `MultiTaskEnv.start` (task sampling and gather).

Results equal the single-module env's (same functions, composed at the Python level; XLA may order float
operations differently inside each module). Each executable is cached by JAX's persistent compilation cache
on its own (benchmarks with the same skills and envs_per_skill can hit the same entries), and `compile` can
build the groups concurrently. The price: the step is several dispatches from Python, so it cannot sit inside
another jitted function (a `lax.scan` of a training loop); use `MultiTaskEnv` there.

    split = SplitMultiTaskEnv(make_multitask(envs.benchmark("MT50"), 8))
    timings = split.compile(workers=2)      # optional: ahead-of-time, per-executable compile seconds
    s = split.reset(key)
    s = split.step(s, actions)              # actions (N, 4); same MultiTaskState as MultiTaskEnv.step
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp

from envs.multitask import MultiTaskEnv, MultiTaskState, SkillMajorLayout
from envs.sawyer import ACTION_DIM


#: Memory mappings one executable of a physics group takes on XLA:CPU, which maps every compiled kernel's
#: sections separately (measured: reach's reset pool ~900, its step ~1,100; MT50's 78 executables 105.7k in
#: all, 1,355 each on average). Linux caps a process at vm.max_map_count mappings (default 65,530); past it
#: LLVM's code allocation fails ("Cannot allocate memory") and the process crashes (seen on MT50).
CPU_MAPS_PER_EXECUTABLE = 1500


def check_map_count(n_executables: int) -> None:
    """Raise before compiling if `n_executables` more XLA:CPU executables would likely exceed the process's
    memory-mapping limit (Linux vm.max_map_count); a no-op off CPU or where /proc is not readable."""
    if jax.default_backend() != "cpu":
        return
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            limit = int(f.read())
        with open("/proc/self/maps") as f:
            used = sum(1 for _ in f)
    except (OSError, ValueError):
        return
    need = used + n_executables * CPU_MAPS_PER_EXECUTABLE
    if need > limit:
        raise RuntimeError(
            f"{n_executables} XLA:CPU executables need about {n_executables * CPU_MAPS_PER_EXECUTABLE:,} memory "
            f"mappings ({CPU_MAPS_PER_EXECUTABLE:,} each) on top of this process's {used:,}, over vm.max_map_count "
            f"= {limit:,}: XLA would crash mid-compile. Raise the limit (as root: sysctl -w "
            f"vm.max_map_count={max(262144, 2 * need)}), use fewer skills, or pass check_map_count=False"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class SplitMultiTaskEnv(SkillMajorLayout):
    """`env`'s reset and step as one executable per physics group plus one joining executable each.

    compiler_options: XLA options for every executable (e.g. {"xla_backend_optimization_level": 0}).
    check_map_count: on XLA:CPU, raise before the first compile if the executables would likely exceed
        Linux's per-process memory-mapping limit (`check_map_count`; MT50 needs ~106k, the default is 65,530).
    """

    env: MultiTaskEnv
    compiler_options: dict[str, Any] | None = None
    check_map_count: bool = True

    def __post_init__(self):
        members = [m for m, _ in self.env._groups()]
        object.__setattr__(self, "_members", tuple(members))
        object.__setattr__(
            self,
            "_step_fns",
            tuple(
                jax.jit(lambda states, actions, gi=gi: self.env.group_step(gi, states, actions))
                for gi in range(len(members))
            ),
        )
        object.__setattr__(
            self,
            "_pool_fns",
            tuple(jax.jit(lambda tasks, gi=gi: self.env.group_reset_pool(gi, tasks)) for gi in range(len(members))),
        )
        object.__setattr__(self, "_finish_fn", jax.jit(self.env.finish))
        object.__setattr__(self, "_start_fn", jax.jit(self.env.start))
        object.__setattr__(self, "_compiled", {})  # name -> executable, filled by `compile` / compiler_options
        object.__setattr__(self, "_key_spec", None)  # the key `compile` built the reset for
        object.__setattr__(self, "_checked", [False])  # check_map_count done

    @property
    def skills(self) -> tuple[str, ...]:
        return self.env.skills

    @property
    def envs_per_skill(self) -> int:
        return self.env.envs_per_skill

    @property
    def physics_groups(self) -> tuple[tuple[int, ...], ...]:
        """Skill indices of each physics group (one compiled step executable each)."""
        return self._members

    @property
    def num_executables(self) -> int:
        """Executables of the reset and step: a reset pool and a step per physics group, `start`, `finish`."""
        return 2 * len(self._members) + 2

    def _check_maps(self) -> None:
        if self.check_map_count and not self._checked[0]:
            check_map_count(self.num_executables)
            self._checked[0] = True

    def _call(self, name: str, fn, *args):
        compiled = self._compiled.get(name)
        if compiled is not None:
            return compiled(*args)
        self._check_maps()
        if self.compiler_options:
            compiled = fn.lower(*args).compile(compiler_options=self.compiler_options)
            self._compiled[name] = compiled
            return compiled(*args)
        return fn(*args)

    def reset_pool(self) -> tuple:
        """`MultiTaskEnv.reset_pool`, one executable per physics group."""
        return self.env.skill_order(
            [self._call(f"pool{gi}", self._pool_fns[gi], self.env.group_tasks(gi)) for gi in range(len(self._members))]
        )

    def reset(self, key: jax.Array) -> MultiTaskState:
        """`MultiTaskEnv.reset`: every instance starts an episode of a task drawn from its skill's task set."""
        compiled_key = self._key_spec
        got = jax.ShapeDtypeStruct(jnp.shape(key), jnp.result_type(key))
        if compiled_key is not None and (got.shape, got.dtype) != (compiled_key.shape, compiled_key.dtype):
            raise ValueError(
                f"key has shape {got.shape} and dtype {got.dtype}, but `compile` built the reset for "
                f"{compiled_key.shape} {compiled_key.dtype}: pass the same kind of key to both"
            )
        return self._call("start", self._start_fn, key, self.reset_pool())

    def step(self, state: MultiTaskState, actions: jax.Array) -> MultiTaskState:
        """`MultiTaskEnv.step`: all instances stepped with actions (N, 4), finished ones auto-reset."""
        actions = self.env._check_actions(actions)
        if not isinstance(state, MultiTaskState) or len(state.groups) != self.num_skills:
            raise ValueError(f"state must be a MultiTaskState of this env's {self.num_skills} skills (from its reset)")
        stepped = self.env.skill_order(
            [
                self._call(f"step{gi}", self._step_fns[gi], *self.env.group_inputs(gi, state.groups, actions))
                for gi in range(len(self._members))
            ]
        )
        return self._call("finish", self._finish_fn, state, stepped)

    def compile(self, key: jax.Array | None = None, workers: int = 1, on_done=None) -> dict[str, dict]:
        """Compile every executable ahead of time (from shapes only; nothing runs). Returns per executable name
        ("pool{gi}", "step{gi}", "start", "finish") {"lower_s", "compile_s", "skills"}. workers > 1 compiles that
        many executables concurrently (XLA compiles outside the GIL). on_done(name, record) is called as each
        finishes. Later `reset` / `step` calls use these executables."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._check_maps()
        key = jax.random.key(0) if key is None else key
        env = self.env
        pool = env.skill_order(
            [jax.eval_shape(self._pool_fns[gi], env.group_tasks(gi)) for gi in range(len(self._members))]
        )
        state = jax.eval_shape(env.start, key, pool)
        actions = jax.ShapeDtypeStruct((self.num_envs, ACTION_DIM), jnp.float32)
        jobs = {}
        for gi, members in enumerate(self._members):
            names = tuple(self.skills[g] for g in members)
            jobs[f"pool{gi}"] = (self._pool_fns[gi], (env.group_tasks(gi),), names)
            inputs = jax.eval_shape(lambda st, a, gi=gi: env.group_inputs(gi, st, a), state.groups, actions)
            jobs[f"step{gi}"] = (self._step_fns[gi], inputs, names)
        jobs["start"] = (self._start_fn, (key, pool), self.skills)
        jobs["finish"] = (self._finish_fn, (state, state.groups), self.skills)
        object.__setattr__(self, "_key_spec", jax.ShapeDtypeStruct(jnp.shape(key), jnp.result_type(key)))

        def build(name):
            fn, args, names = jobs[name]
            t = time.perf_counter()
            lowered = fn.lower(*args)
            lower_s = time.perf_counter() - t
            t = time.perf_counter()
            compiled = (
                lowered.compile(compiler_options=self.compiler_options) if self.compiler_options else lowered.compile()
            )
            rec = {"lower_s": lower_s, "compile_s": time.perf_counter() - t, "skills": names}
            return name, compiled, rec

        out = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool_exec:
            for name, compiled, rec in pool_exec.map(build, jobs) if workers > 1 else map(build, jobs):
                self._compiled[name] = compiled
                out[name] = rec
                if on_done is not None:
                    on_done(name, rec)
        return out
