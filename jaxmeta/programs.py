"""Ahead-of-time compilation of a run's programs (`compile_programs` -> `Programs`): the env's reset pool
(one small executable per physics group, run once and dropped), `init` (no physics) and `run`, the one
program with env physics, which serves training chunks and evaluations alike; each compile timed on its own.

A loaded XLA:CPU executable keeps its machine code mapped (several memory mappings per compiled object,
capped per process by Linux's `vm.max_map_count`, 65,530 by default), so each reset-pool executable is run
as soon as it is compiled and then released: only `init` and `run` stay loaded (docs/families.md)."""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxmeta.distributed import to_host
from jaxmeta.sharding import state_shardings
from jaxmeta.train import Metrics, Trainer, TrainState

__all__ = ["Programs", "compile_programs"]


@dataclasses.dataclass
class Programs:
    """Compiled executables of a run and their compile times (seconds).

    pool: the env's reset pool (every task's reset state; () for the toy env), computed by one small
    executable per physics group while `run` compiled, those executables already released; None when
    compiled without `need_init`.
    init(key, pool) -> TrainState (no physics); run(ts, eval_key, evaluating) -> (ts, train_metrics,
    eval_metrics): the run's only program with env physics, for training chunks and evaluations alike."""

    pool: Any
    init: Any
    run: Any
    batched: bool
    num_devices: int
    mesh: Mesh | None
    state_sharding: Any
    compile_s: dict
    abstract_state: Any

    def chunk(self, ts: TrainState) -> tuple[TrainState, Metrics]:
        """One training chunk (the train state is donated)."""
        ts, m, _ = self.run(ts, self._dummy_key, np.bool_(False))
        return ts, m

    def evaluate(self, ts: TrainState, key: jax.Array) -> tuple[TrainState, Metrics]:
        """Evaluate the policy of `ts` (donated; the returned state equals it). key: (2,) or (S, 2)."""
        ts, _, ev = self.run(ts, key, np.bool_(True))
        return ts, ev

    def init_state(self, key: jax.Array) -> TrainState:
        """A fresh run's state: init over the reset pool."""
        if self.pool is None:
            raise RuntimeError("init_state needs the reset pool: compile_programs(..., need_init=True)")
        pool = self.pool
        if self.mesh is not None:  # (from the host with several processes: each computed the same pool)
            rep = NamedSharding(self.mesh, P())
            pool = jax.device_put(to_host(pool) if jax.process_count() > 1 else pool, rep)
        return jax.block_until_ready(self.init(key, pool))

    @property
    def _dummy_key(self):
        return np.zeros((self.abstract_state.key.shape[0], 2) if self.batched else (2,), np.uint32)


def _pool_parts(env) -> list[Callable[[], Any]]:
    """Zero-argument functions computing the env's reset pool piece by piece (one per physics group of
    the MJX multi-task env; none for the toy env), and how to join them: `env.skill_order`.

    New function objects on every call: JAX's tracing and lowering caches are keyed (weakly) on the
    function, and their entries keep the lowered module, hence its compiled executable, alive while the
    function lives. The functions that are compiled must therefore be referenced by nothing else."""
    if not hasattr(env, "group_reset_pool"):  # (SkillIdEnv forwards these to the env it wraps)
        return []
    return [lambda gi=gi: env.group_reset_pool(gi, env.group_tasks(gi)) for gi in range(env.num_physics_groups)]


def _pool_shape(env) -> Any:
    """The reset pool's shapes: `reset_pool_shape` where the env has it (no physics traced), else traced."""
    if hasattr(env, "reset_pool_shape"):
        return env.reset_pool_shape()
    return jax.eval_shape(lambda: env.skill_order([p() for p in _pool_parts(env)]))


def _lower_pool_parts(env, jit_part=jax.jit) -> dict[str, Any]:
    """{"reset_pool_<gi>": Lowered}: each physics group's reset-pool part lowered, its function referenced by
    nothing but the Lowered, so dropping the Lowered once its executable has run unmaps that executable."""
    return {f"reset_pool_{gi}": jit_part(part).lower() for gi, part in enumerate(_pool_parts(env))}


def compile_programs(trainer: Trainer, *, need_init: bool = True, workers: int | None = None) -> Programs:
    """Lower and compile (ahead of time) the run's programs, `workers` at a time (default: one per CPU
    core), and time each: the reset pool's per-group executables and init (only when `need_init`) and the
    run program (train state donated). With several devices the shardings of `state_shardings` are used
    (and the sampled batch is constrained to the data axis)."""
    cfg = trainer.config
    batched = cfg.num_seeds > 1
    mesh = trainer.mesh
    D = 1 if mesh is None else mesh.devices.size
    env = trainer.env
    init_fn = trainer.init_batch if batched else trainer.init
    run_fn = trainer.run_batch if batched else trainer.run
    key = jax.random.PRNGKey(cfg.seed)
    init_key = key if batched else trainer.seed_key(0)
    n_parts = len(_pool_parts(env))  # (each use takes new functions: see _pool_parts)
    pool_abs = _pool_shape(env) if n_parts else ()
    abstract = jax.eval_shape(init_fn, init_key, pool_abs)
    key_abs = jax.ShapeDtypeStruct((cfg.num_seeds, 2) if batched else (2,), jnp.uint32)
    flag_abs = jax.ShapeDtypeStruct((), jnp.bool_)

    sh = None
    if mesh is not None:
        sh = state_shardings(abstract, mesh, batched)
        rep = NamedSharding(mesh, P())
        data = NamedSharding(mesh, P("data"))
        out_m = data if batched else rep
        # the pool is computed on one device (no collectives: several such programs in flight on a mesh
        # deadlocked XLA:CPU's collectives once) and replicated by init's input sharding
        jit_part = lambda f: jax.jit(f, out_shardings=jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))  # noqa: E731
        jit_init = jax.jit(init_fn, in_shardings=(rep, rep), out_shardings=sh)
        jit_run = jax.jit(run_fn, in_shardings=(sh, out_m, rep), out_shardings=(sh, out_m, out_m), donate_argnums=0)
    else:
        jit_part = jax.jit
        jit_init = jax.jit(init_fn)
        jit_run = jax.jit(run_fn, donate_argnums=0)

    times: dict = {}

    def comp(name, lowered):
        t = time.perf_counter()
        c = lowered.compile()
        times[name] = time.perf_counter() - t
        return c

    def comp_and_run(name, lowered):  # a reset-pool part: its value; the executable is released on return
        c = comp(name, lowered)
        t = time.perf_counter()
        out = jax.block_until_ready(c())
        times[name + "_run"] = time.perf_counter() - t
        return out

    # The run program is the largest: its compile starts as soon as it is lowered, while the small ones are
    # lowered (tracing holds the GIL, XLA's compile does not); they then compile `workers - 1` at a time.
    workers = workers or max(1, os.cpu_count() or 1)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(workers, 2)) as pool:
        lower_s = 0.0
        t = time.perf_counter()
        lowered_run = jit_run.lower(abstract, key_abs, flag_abs)
        lower_s += time.perf_counter() - t
        futures = {"run": pool.submit(comp, "run", lowered_run)}
        small = {}
        if need_init:
            t = time.perf_counter()
            small["init"] = jit_init.lower(init_key, pool_abs)
            small.update(_lower_pool_parts(env, jit_part))
            lower_s += time.perf_counter() - t
        with ThreadPoolExecutor(max_workers=max(1, workers - 1)) as small_pool:
            # (popped: a Lowered keeps the executable it compiled alive, which would keep the pool's loaded)
            futures.update(
                {
                    name: small_pool.submit(
                        comp_and_run if name.startswith("reset_pool_") else comp, name, small.pop(name)
                    )
                    for name in list(small)
                }
            )
            compiled = {name: f.result() for name, f in futures.items()}
    times["lower"] = lower_s
    times["total"] = time.perf_counter() - t0
    pool = None
    if need_init:
        pool = env.skill_order([compiled.pop(f"reset_pool_{gi}") for gi in range(n_parts)]) if n_parts else ()
    if n_parts:
        names = [f"reset_pool_{gi}" for gi in range(n_parts)] if need_init else []
        times["reset_pool"] = sum(times.pop(n) for n in names)
        times["reset_pool_run"] = sum(times.pop(n + "_run") for n in names)

    return Programs(
        pool=pool,
        init=compiled.get("init"),
        run=compiled["run"],
        batched=batched,
        num_devices=D,
        mesh=mesh,
        state_sharding=sh,
        compile_s=times,
        abstract_state=abstract,
    )
