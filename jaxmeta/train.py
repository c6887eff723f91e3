"""The training loop: a jitted loop of (act -> env step -> replay add -> k SAC updates), evaluated through
the same program.

Pure functions (`make_train(config) -> Trainer`)::

    trainer = make_train(cfg)
    ts = trainer.init(key)                     # TrainState: SAC + replay + env state, key, counters
    ts, metrics = jax.jit(trainer.chunk, donate_argnums=0)(ts)   # cfg.iters_per_chunk iterations
    ev = jax.jit(trainer.evaluate)(ts, key)    # per-skill success of the deterministic policy of ts

    # several seeds in one compiled program (PureJaxRL style): leading axis S = cfg.num_seeds
    tsb = trainer.init_batch(jax.random.PRNGKey(cfg.seed))
    tsb, metrics = jax.jit(trainer.chunk_batch, donate_argnums=0)(tsb)

    # the driver's one program with env physics: run(ts, eval_key, evaluating) with a traced bool
    ts, train_metrics, eval_metrics = jax.jit(trainer.run, donate_argnums=0)(ts, key, jnp.bool_(False))

and the Python driver `train(cfg, ...)` (used by ``jaxmeta train``) that compiles the programs once
(ahead of time, timed separately from running): the env's reset pool (`envs.multitask`: one small
executable per physics group), `init` given that pool (no physics), and `run`, which holds the env step
exactly once and serves both training chunks and evaluations (so the env is compiled once per run). It
runs chunks and between chunks evaluates, logs (progress bar, ``metrics.csv``, ``summary.json``,
``learning_curve.png``) and checkpoints (orbax).

One iteration of the run's loop (`lax.fori_loop`; single seed):

1. ``steps_per_update`` batched env steps, each: action = uniform random in [-1, 1] while
   ``env_steps < warmup_steps`` else a tanh-Gaussian policy sample; ``env.step``; the transition
   ``(obs, action, reward, next_obs = final_obs (true next obs before auto-reset), discount = 1,
   task_id)`` is added to the replay buffer (Meta-World never terminates; time-limit truncation
   bootstraps, so the discount is always 1), unless it holds a NaN / inf (metric
   ``nonfinite_transition``, per chunk; the MJX envs never produce one: they zero non-finite actions,
   ``nonfinite_action``, and reset diverged physics, ``physics_nan``).
2. if ``env_steps >= learning_starts``: ``updates_per_step`` learner updates (a nested scan). The
   learner (`jaxmeta.learner.Learner`, built by the algorithm's `jaxmeta.config.AlgoSpec`) samples its
   own batch: for SAC / PaCo one batch (uniform / task-balanced / prioritized with IS weights) and, for
   PER, writes back priorities ``|TD| + eps``.

Warm-up and learning flags come from the step counter, which is identical across seeds, so in the
vmapped multi-seed program they stay scalar `lax.cond` predicates (no wasted work); the seed axis is
vmapped *inside* the time scan. (The env's auto-reset is a gather from the reset pool carried in its
state, `envs.multitask`, plus a select: no branch to lose under the seed vmap.)

Evaluation (`run` with evaluating=True, or `evaluate`): every env of the training batch starts a fresh
episode from the reset pool (tasks drawn with the evaluation key), the deterministic policy ``tanh(mean)``
acts for ``ceil(eval_episodes / envs_per_skill)`` episodes of ``max_path_length`` steps per env, and the
first ``eval_episodes`` episodes of each skill count (instance i's k-th episode is the skill's episode
``k * envs_per_skill + i``); an episode succeeds if any step does (metaworld's criterion). Nothing is
added to the replay, no update runs, and the env state, keys and counters are returned as they were, so
training never depends on evaluation.

Keys: the run key is ``PRNGKey(cfg.seed)``; seed ``i`` of a run uses ``fold_in(run_key, i)`` (so a
1-seed run is seed 0 of a multi-seed run); evaluation after chunk ``c`` uses
``fold_in(fold_in(PRNGKey(cfg.seed + 1), c), i)``, independent of training randomness, so a resumed
run evaluates exactly like an uninterrupted one.

Multi-device (`jax.sharding`): with ``D > 1`` devices the chunk is jitted with explicit shardings over a
1-D mesh ``("data",)``: single seed -> the env batch axis (every per-env leaf of the env state) and the
sampled replay batch axis are sharded, parameters, optimizer states, the replay storage and the env's
reset pool are replicated (each device holds the whole buffer; gradients are reduced by the partitioner); several
seeds -> the seed axis is sharded. ``D`` is the largest divisor of the sharded axis that is <= the
number of devices (``cfg`` can't know the machine). Several processes (`jaxmeta.distributed`, e.g.
``jaxmeta train --distributed``): initialized before anything touches the backend, every process calls
`train` with the same config; the mesh then holds every process's devices (all of them: the sharded axis
must divide over them), the same program runs SPMD on all, process 0 alone writes the run's files, and
every process writes its shards of the checkpoints (docs/distributed.md).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxmeta.config import ALGOS, TrainConfig, check_ported
from jaxmeta.distributed import to_host
from jaxmeta.interfaces import RunHooks, TrainEnv, check_hooks
from jaxmeta.learner import Learner
from jaxmeta.networks import Networks
from jaxmeta.replay import ReplayBuffer, ReplayState, make_replay
from jaxmeta.sac import Transition

__all__ = ["TrainState", "Trainer", "make_env", "make_train", "train"]

Metrics = dict[str, jax.Array]


@struct.dataclass
class TrainState:
    """Everything a run needs to continue exactly (one pytree; add a leading seed axis when batched).

    agent: the learner's state (`SACState` for mtsac/mhsac, `PaCoState` for paco, ...): params, target
        critic, temperature, optimizer states, update count.
    replay: ReplayState. env: MultiTaskState (envs.multitask or envs.toy).
    key: raw uint32 (2,) PRNG key of the loop. env_steps / updates: () int32 counters (env steps
    summed over all envs; SAC updates). episode_return: (N,) f32 running return of each env's
    current episode. episodes: () int32 finished episodes.
    """

    agent: Any
    replay: ReplayState
    env: Any
    key: jax.Array
    env_steps: jax.Array
    updates: jax.Array
    episode_return: jax.Array
    episodes: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class Trainer:
    """Pure functions of a run (see module docstring). Hashable by identity (static under jit)."""

    config: TrainConfig
    mesh: Mesh | None  # 1-D ("data",) mesh when sharding over several devices, else None
    env: TrainEnv  # MultiTaskEnv / ToyMultiTaskEnv, envs_per_skill = cfg.envs_per_skill (training and evaluation)
    networks: Networks
    learner: Learner
    buffer: ReplayBuffer
    init: Callable[..., TrainState]  # init(key, reset_pool=None)
    chunk: Callable[[TrainState], tuple[TrainState, Metrics]]
    init_batch: Callable[..., TrainState]  # init_batch(run_key, reset_pool=None)
    chunk_batch: Callable[[TrainState], tuple[TrainState, Metrics]]
    evaluate: Callable[[TrainState, jax.Array], Metrics]
    evaluate_batch: Callable[[TrainState, jax.Array], Metrics]
    run: Callable[[TrainState, jax.Array, Any], tuple[TrainState, Metrics, Metrics]]
    run_batch: Callable[[TrainState, jax.Array, Any], tuple[TrainState, Metrics, Metrics]]

    @property
    def skills(self) -> tuple[str, ...]:
        return tuple(self.env.skills)

    def run_key(self) -> jax.Array:
        return jax.random.PRNGKey(self.config.seed)

    def seed_key(self, i: int) -> jax.Array:
        return jax.random.fold_in(self.run_key(), i)

    def eval_key(self, chunk: int) -> jax.Array:
        """Evaluation key after chunk `chunk`, shape (S, 2) (one per seed)."""
        base = jax.random.fold_in(jax.random.PRNGKey(self.config.seed + 1), chunk)
        return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(self.config.num_seeds))


# ------------------------------------------------------------------------------------------------ envs
def make_env(config: TrainConfig, envs_per_skill: int):
    """The batched env of `config.benchmark` (MJX multi-task env, or the toy env for ``toy/<n>``): its
    `split` / `task_indices` task sets, skills reporting their conditioning ids (`jaxmeta.tasks`)."""
    from jaxmeta.tasks import build_env

    return build_env(config.benchmark, split=config.split, task_indices=config.task_indices,
                     task_ids=config.task_ids, envs_per_skill=envs_per_skill,
                     max_path_length=config.max_path_length, seed=config.seed)


# ----------------------------------------------------------------------------------------------- build
def make_train(config: TrainConfig, num_devices: int | None = None) -> Trainer:
    """Build the pure functions of a run. Builds the envs (no compile); raises ValueError for an
    unported skill before doing anything expensive.

    num_devices: devices to shard over (None: `plan_devices(config)`: on an accelerator as many of
    ``jax.devices()`` as divide the sharded axis, on a CPU 1). With 1 the functions contain no sharding."""
    check_ported(config.benchmark, config.split)
    cfg = config
    D = plan_devices(cfg) if num_devices is None else int(num_devices)
    if D < 1 or D > len(jax.devices()):
        raise ValueError(f"num_devices must be in [1, {len(jax.devices())}], got {num_devices!r}")
    mesh = Mesh(np.asarray(jax.devices()[:D]), ("data",)) if D > 1 else None
    env = make_env(cfg, cfg.envs_per_skill)
    if tuple(env.skills) != cfg.skills:
        raise RuntimeError(f"env skills {env.skills} != config skills {cfg.skills}")
    buffer = make_replay(
        cfg.buffer_capacity,
        cfg.num_tasks,
        cfg.replay_kind,
        alpha=cfg.per_alpha,
        beta_start=cfg.per_beta,
        beta_end=1.0,
        beta_steps=cfg.total_updates,
    )
    # ------------------------------------------------------------------------------ sharding hooks
    def _constrain_batch(batch):
        """Single seed on several devices: split the sampled batch over the data axis."""
        if mesh is None or cfg.num_seeds > 1:
            return batch
        return jax.lax.with_sharding_constraint(batch, NamedSharding(mesh, P("data")))

    learner = ALGOS[cfg.algo].make_learner(cfg, buffer, _constrain_batch)
    networks = learner.networks
    N, A, T = env.num_envs, env.action_size, cfg.num_tasks
    U, K = cfg.updates_per_step, cfg.steps_per_update

    # ---------------------------------------------------------------------------------- init
    def init(key: jax.Array, reset_pool: Any = None) -> TrainState:
        """A fresh run's state. reset_pool: the env's `reset_pool()` (computed here when None; the driver
        computes it once, in its own small programs, so that this one holds no physics)."""
        k_agent, k_env, k_loop = jax.random.split(key, 3)
        env_state = env.start(k_env, env.reset_pool() if reset_pool is None else reset_pool)
        example = Transition(
            obs=jnp.zeros((env.observation_size,), jnp.float32),
            action=jnp.zeros((A,), jnp.float32),
            reward=jnp.zeros((), jnp.float32),
            next_obs=jnp.zeros((env.observation_size,), jnp.float32),
            discount=jnp.zeros((), jnp.float32),
            task_id=jnp.zeros((), jnp.int32),
        )
        return TrainState(
            agent=learner.init(k_agent),
            replay=buffer.init(example),
            env=env_state,
            key=k_loop,
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((N,), jnp.float32),
            episodes=jnp.zeros((), jnp.int32),
        )

    def init_batch(run_key: jax.Array, reset_pool: Any = None) -> TrainState:
        keys = jax.vmap(lambda i: jax.random.fold_in(run_key, i))(jnp.arange(cfg.num_seeds))
        pool = env.reset_pool() if reset_pool is None else reset_pool
        return jax.vmap(init, in_axes=(0, None))(keys, pool)

    # ------------------------------------------------------------------------- env step (1 seed)
    n = cfg.envs_per_skill
    S_env = env.num_skills
    E_eval = cfg.eval_episodes
    eval_iters = -(-(-(-E_eval // n) * cfg.max_path_length) // K)  # ceil(rounds * L / K) iterations
    instance = jnp.tile(jnp.arange(n, dtype=jnp.int32), S_env)  # row -> instance index within its skill
    env_skill = jnp.repeat(jnp.arange(S_env, dtype=jnp.int32), n)  # row -> env skill index

    def env_step(carry, warm: jax.Array, evaluating) -> tuple[tuple, Metrics]:
        """One batched env step; carry = (ts, ep) with ep (N,) int32 the evaluation episodes each env
        finished so far. Training: explore (uniform random while `warm`, else a policy sample) and
        add the transition to the replay. Evaluating: the deterministic policy tanh(mean), nothing stored."""
        ts, ep = carry
        key, k_act = jax.random.split(ts.key)
        obs, task_id = ts.env.obs, ts.env.task_id
        explore = lambda: jax.lax.cond(  # noqa: E731
            warm,
            lambda: jax.random.uniform(k_act, (N, A), jnp.float32, -1.0, 1.0),
            (lambda: learner.act(ts.agent, obs, task_id, k_act, ts.env_steps)) if learner.act is not None
            else (lambda: networks.sample_action(learner.actor_params(ts.agent), obs, task_id, k_act)[0]),
        )
        exploit = lambda: networks.deterministic_action(learner.actor_params(ts.agent), obs, task_id)  # noqa: E731
        action = _branch(evaluating, exploit, explore)
        new = _env_step(env, ts.env, action)  # the program's only env step
        transition = Transition(
            obs=obs,
            action=action,
            reward=new.reward,
            next_obs=new.final_obs,
            discount=jnp.ones((N,), jnp.float32),
            task_id=task_id,
        )
        # a transition with a NaN / inf anywhere (a custom env's; the MJX envs sanitise theirs) is not stored
        finite = _finite_rows(transition)
        if isinstance(evaluating, bool):
            replay = ts.replay if evaluating else buffer.add(ts.replay, transition, valid=finite)
        else:  # a masked add, not a cond: a cond returning the replay would copy the whole storage every step
            replay = buffer.add(ts.replay, transition, valid=finite & jnp.logical_not(evaluating))
        ret = ts.episode_return + new.reward
        done = new.done
        seg = lambda x: jax.ops.segment_sum(x.astype(jnp.float32), task_id, num_segments=T)  # noqa: E731
        # evaluation: the first E_eval episodes of every skill count (instance i's k-th episode is the skill's
        # episode k * envs_per_skill + i); per env skill (not task id), as metaworld reports them
        counted = done & (ep * n + instance < E_eval)
        seg_skill = lambda x: jax.ops.segment_sum(x.astype(jnp.float32), env_skill, num_segments=S_env)  # noqa: E731
        stats = {
            "reward": seg(new.reward),
            "finished": seg(done),
            "return": seg(jnp.where(done, ret, 0.0)),
            "success": seg(done & new.episode_success),
            "physics_nan": jnp.sum(new.physics_nan.astype(jnp.float32)),
            "nonfinite_action": jnp.sum(new.nonfinite_action),
            "nonfinite_transition": jnp.sum(jnp.logical_not(finite).astype(jnp.float32)),
            "eval_count": seg_skill(counted),
            "eval_success": seg_skill(counted & new.episode_success),
            "eval_return": seg_skill(jnp.where(counted, ret, 0.0)),
        }
        ts = ts.replace(
            env=new,
            replay=replay,
            key=key,
            env_steps=ts.env_steps + N,
            episode_return=jnp.where(done, 0.0, ret),
            episodes=ts.episodes + jnp.sum(done.astype(jnp.int32)),
        )
        return (ts, ep + done.astype(jnp.int32)), stats

    def env_steps(carry, warm: jax.Array, evaluating) -> tuple[tuple, Metrics]:
        """K batched env steps; warm (K,) bool (unbatched under the seed vmap)."""
        carry, stats = jax.lax.scan(lambda c, w: env_step(c, w, evaluating), carry, warm)
        return carry, jax.tree.map(lambda x: jnp.sum(x, axis=0), stats)

    # -------------------------------------------------------------------------- updates (1 seed)
    def one_update(carry, _):
        agent, replay, key = carry
        key, k_update = jax.random.split(key)
        agent, replay, m = learner.update(agent, replay, k_update)
        return (agent, replay, key), m

    def updates(ts: TrainState) -> tuple[TrainState, Metrics]:
        key, sub = jax.random.split(ts.key)
        (s, r, _), ms = jax.lax.scan(one_update, (ts.agent, ts.replay, sub), None, length=U)
        ms = jax.tree.map(lambda x: jnp.mean(x, axis=0), ms)
        return ts.replace(agent=s, replay=r, key=key, updates=ts.updates + U), ms

    def no_updates(ts: TrainState) -> tuple[TrainState, Metrics]:
        shapes = jax.eval_shape(updates, ts)[1]
        return ts, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    # ---------------------------------------------------------------------------- evaluation start
    def begin_eval(ts: TrainState, key: jax.Array) -> TrainState:
        """Every env starts a fresh episode (tasks drawn with `key`) from the reset pool: no physics."""
        return ts.replace(env=env.start(key, ts.env.reset_pool), episode_return=jnp.zeros((N,), jnp.float32))

    # -------------------------------------------------------------------------------- the program
    #: shapes of one env step's statistics (`env_step`), summed over a run's iterations
    stat_shapes = {"reward": (T,), "finished": (T,), "return": (T,), "success": (T,), "physics_nan": (),
                   "nonfinite_action": (), "nonfinite_transition": (), "eval_count": (S_env,), "eval_success": (S_env,), "eval_return": (S_env,)}

    def make_run(batched: bool):
        """``run(ts, eval_key, evaluating) -> (ts, train_metrics, eval_metrics)``: `cfg.iters_per_chunk`
        training iterations, or (evaluating) an evaluation of the current policy through the same env step.

        evaluating: a Python bool (the program holds only that branch) or a traced () bool (one program for
        both: the env's physics is compiled once per run). An evaluation leaves the training state as it was
        (env state, keys, counters, replay, agent): training does not depend on when or how often it is
        evaluated."""
        seeds = cfg.num_seeds if batched else None
        if batched:  # `evaluating` closed over, not mapped: a Python bool stays one (static branch)
            env_fn = lambda c, w, e: jax.vmap(lambda c_, w_: env_steps(c_, w_, e), in_axes=(0, None))(c, w)  # noqa: E731
        else:
            env_fn = env_steps
        upd_fn = jax.vmap(updates) if batched else updates
        skip_fn = jax.vmap(no_updates) if batched else no_updates
        begin_fn = jax.vmap(begin_eval) if batched else begin_eval
        summarize = jax.vmap(_summarize) if batched else _summarize
        eval_summary = jax.vmap(_eval_summary) if batched else _eval_summary

        def iteration(carry, evaluating):
            ts, ep, stats_sum, m_sum, n_learn = carry
            steps = ts.env_steps[0] if batched else ts.env_steps  # identical across seeds
            warm = steps + N * jnp.arange(K, dtype=jnp.int32) < cfg.warmup_steps
            (ts, ep), stats = env_fn((ts, ep), warm, evaluating)
            learn = steps + N * K >= cfg.learning_starts
            if evaluating is not True:
                learn = learn & jnp.logical_not(evaluating)
            ts, m = (skip_fn(ts) if evaluating is True else jax.lax.cond(learn, upd_fn, skip_fn, ts))
            w = learn.astype(jnp.float32)
            m_sum = jax.tree.map(lambda a, b: a + w * b, m_sum, m)
            stats_sum = jax.tree.map(jnp.add, stats_sum, stats)
            return ts, ep, stats_sum, m_sum, n_learn + w

        def run(ts: TrainState, eval_key: jax.Array, evaluating) -> tuple[TrainState, Metrics, Metrics]:
            keep = (ts.env, ts.key, ts.env_steps, ts.episode_return, ts.episodes)
            ts = _branch(evaluating, lambda: begin_fn(ts, eval_key), lambda: ts)
            ep0 = jnp.zeros(((seeds,) if batched else ()) + (N,), jnp.int32)
            lead = (seeds,) if batched else ()
            stats0 = {k: jnp.zeros(lead + shape, jnp.float32) for k, shape in stat_shapes.items()}
            m0 = skip_fn(ts)[1]  # zeros shaped like the learner's metrics
            carry = (ts, ep0, stats0, m0, jnp.zeros((), jnp.float32))
            if isinstance(evaluating, bool):
                iters = eval_iters if evaluating else cfg.iters_per_chunk
            else:
                iters = jnp.where(evaluating, eval_iters, cfg.iters_per_chunk)
            ts, _, stats, m, n_learn = jax.lax.fori_loop(0, iters, lambda _, c: iteration(c, evaluating), carry)
            ev = eval_summary(stats)
            restore = lambda: ts.replace(env=keep[0], key=keep[1], env_steps=keep[2],  # noqa: E731
                                         episode_return=keep[3], episodes=keep[4])
            ts = _branch(evaluating, restore, lambda: ts)
            return ts, summarize(ts, stats, m, jnp.broadcast_to(n_learn, (seeds,) if batched else ())), ev

        return run

    def _eval_summary(stats: Metrics) -> Metrics:
        count = jnp.maximum(stats["eval_count"], 1.0)
        sp, rp = stats["eval_success"] / count, stats["eval_return"] / count
        return {"success": jnp.mean(sp), "success_per_task": sp, "return": jnp.mean(rp), "return_per_task": rp,
                "episodes_per_task": stats["eval_count"]}

    def _summarize(ts: TrainState, stats: Metrics, m: Metrics, n_learn: jax.Array) -> Metrics:
        nan = jnp.float32(jnp.nan)
        out = {
            "env_steps": ts.env_steps,
            "updates": ts.updates,
            "episodes": ts.episodes,
            "reward": jnp.sum(stats["reward"]) / (cfg.iters_per_chunk * K * N),
            "reward_per_task": stats["reward"] / (cfg.iters_per_chunk * K * cfg.envs_per_skill),
            "finished": jnp.sum(stats["finished"]),
            "physics_nan": stats["physics_nan"],
            "nonfinite_action": stats["nonfinite_action"],
            "nonfinite_transition": stats["nonfinite_transition"],
        }
        fin, fin_t = jnp.sum(stats["finished"]), stats["finished"]
        out["episode_return"] = jnp.where(fin > 0, jnp.sum(stats["return"]) / jnp.maximum(fin, 1), nan)
        out["episode_success"] = jnp.where(fin > 0, jnp.sum(stats["success"]) / jnp.maximum(fin, 1), nan)
        out["episode_success_per_task"] = jnp.where(fin_t > 0, stats["success"] / jnp.maximum(fin_t, 1), nan)
        for k, v in m.items():
            out[k] = jnp.where(n_learn > 0, v / jnp.maximum(n_learn, 1), nan)
        if learner.state_metrics is not None:  # read from the state at the end of the chunk
            out.update(learner.state_metrics(ts.agent))
        return out

    run_single, run_batched = make_run(False), make_run(True)
    dummy_key = jnp.zeros((2,), jnp.uint32)

    def chunk(ts: TrainState) -> tuple[TrainState, Metrics]:
        ts, m, _ = run_single(ts, dummy_key, False)
        return ts, m

    def chunk_batch(ts: TrainState) -> tuple[TrainState, Metrics]:
        ts, m, _ = run_batched(ts, jnp.zeros((cfg.num_seeds, 2), jnp.uint32), False)
        return ts, m

    def evaluate(ts: TrainState, key: jax.Array) -> Metrics:
        """Per-skill success of the deterministic policy of `ts` (see `make_run`); `ts` is not changed."""
        return run_single(ts, key, True)[2]

    def evaluate_batch(ts: TrainState, keys: jax.Array) -> Metrics:
        return run_batched(ts, keys, True)[2]

    trainer = Trainer(
        config=cfg,
        mesh=mesh,
        env=env,
        networks=networks,
        learner=learner,
        buffer=buffer,
        init=init,
        chunk=chunk,
        init_batch=init_batch,
        chunk_batch=chunk_batch,
        evaluate=evaluate,
        evaluate_batch=evaluate_batch,
        run=run_single,
        run_batch=run_batched,
    )
    return trainer


def _finite_rows(batch) -> jax.Array:
    """(N,) bool: row i of every float leaf of `batch` (leading axis N) is finite."""
    leaves = [x for x in jax.tree.leaves(batch) if jnp.issubdtype(x.dtype, jnp.floating)]
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1) for x in leaves])


@functools.partial(jax.jit, static_argnums=0)
def _env_step(env, state, action):
    """`env.step` as a named sub-program (inlined by XLA), so that tests can count a program's env steps."""
    return env.step(state, action)


def _branch(pred, true_fn, false_fn):
    """`lax.cond(pred, true_fn, false_fn)`, or just the taken branch when pred is a Python bool."""
    if isinstance(pred, bool):
        return true_fn() if pred else false_fn()
    return jax.lax.cond(pred, true_fn, false_fn)


# =========================================================================================== sharding
def _largest_divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


#: The most physics graphs one training program has compiled with on the project's 2-core / 24 GB CPU (MT10 with
#: families: 4; 8 before them). A run with more gets a note before compiling (docs/families.md).
CPU_GRAPHS_COMPILED = 8


def plan_devices(config: TrainConfig, num_devices: int | None = None) -> int:
    """Number of devices the run shards over: the largest divisor of the sharded axis (the seed axis
    with several seeds, else envs_per_skill -- so every skill's group splits evenly -- and the batch
    size) that is <= `num_devices`.

    num_devices None: every device of an accelerator backend, but 1 on a CPU backend. A CPU device's
    training program already keeps about 1.6 cores busy (XLA's intra-op threads), so sharding a run over
    the host devices (one per core, `envs._runtime`) measured slower on a 2-core CPU: 0.54x env-steps/s
    on the default job, 0.64x on MT10 (docs/startup.md). Pass num_devices to shard anyway.

    Several processes (`jaxmeta.distributed`): every device of every process, always; ValueError when the
    sharded axis does not divide over them (a process without a shard would have nothing to run)."""
    total = len(jax.devices())
    if jax.process_count() > 1:
        if num_devices is not None and num_devices != total:
            raise ValueError(f"a run over {jax.process_count()} processes shards over all their {total} devices, "
                             f"not {num_devices}")
        axis, what = ((config.num_seeds, f"seeds ({config.num_seeds})") if config.num_seeds > 1 else
                      (math.gcd(config.envs_per_skill, config.batch_size),
                       f"envs_per_skill ({config.envs_per_skill}) and batch_size ({config.batch_size})"))
        if axis % total:
            raise ValueError(f"a run over {jax.process_count()} processes shards over all their {total} devices: "
                             f"{what} must be multiples of {total}")
        return total
    if num_devices is None:
        n = 1 if jax.default_backend() == "cpu" else total
    else:
        n = num_devices
    if config.num_seeds > 1:
        return _largest_divisor_at_most(config.num_seeds, n)
    return _largest_divisor_at_most(math.gcd(config.envs_per_skill, config.batch_size), n)


def state_shardings(ts_abstract: TrainState, mesh: Mesh, batched: bool) -> TrainState:
    """NamedShardings for a (possibly batched) TrainState: batched -> seed axis sharded everywhere;
    single -> per-env leaves of the env state and episode_return sharded on their leading axis,
    everything else (params, optimizer states, replay storage, keys, counters) replicated."""
    rep = NamedSharding(mesh, P())
    lead = NamedSharding(mesh, P("data"))
    if batched:
        return jax.tree.map(lambda _: lead, ts_abstract)
    env = ts_abstract.env
    env_sh = jax.tree.map(lambda _: lead, env)
    # the reset pool is constant and any instance may gather any task's row: replicated (its task axis, e.g.
    # 50 tasks, need not divide by the device count, which only divides envs_per_skill)
    env_sh = env_sh.replace(key=rep, reset_pool=jax.tree.map(lambda _: rep, env.reset_pool))
    sh = jax.tree.map(lambda _: rep, ts_abstract)
    return sh.replace(env=env_sh, episode_return=lead)


@dataclasses.dataclass
class Programs:
    """Compiled executables of a run and their compile times (seconds).

    reset_pool() -> the env's reset pool (one small executable per physics group; () for the toy env);
    init(key, pool) -> TrainState (no physics); run(ts, eval_key, evaluating) -> (ts, train_metrics,
    eval_metrics): the run's only program with env physics, for training chunks and evaluations alike."""

    reset_pool: Callable[[], Any] | None
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
        """A fresh run's state: the reset pool, then init (one program at a time)."""
        pool = jax.block_until_ready(self.reset_pool())
        if self.mesh is not None:  # (from the host with several processes: each computed the same pool)
            rep = NamedSharding(self.mesh, P())
            pool = jax.device_put(to_host(pool) if jax.process_count() > 1 else pool, rep)
        return jax.block_until_ready(self.init(key, pool))

    @property
    def _dummy_key(self):
        return np.zeros((self.abstract_state.key.shape[0], 2) if self.batched else (2,), np.uint32)


def _pool_parts(env) -> list[Callable[[], Any]]:
    """Zero-argument functions computing the env's reset pool piece by piece (one per physics group of
    the MJX multi-task env; none for the toy env), and how to join them: `env.skill_order`."""
    if not hasattr(env, "group_reset_pool"):  # (TaskIdEnv forwards these to the env it wraps)
        return []
    return [lambda gi=gi: env.group_reset_pool(gi, env.group_tasks(gi)) for gi in range(env.num_physics_groups)]


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
    parts = _pool_parts(env)
    pool_abs = jax.eval_shape(lambda: env.skill_order([p() for p in parts])) if parts else ()
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
            for gi, part in enumerate(parts):
                small[f"reset_pool_{gi}"] = jit_part(part).lower()
            lower_s += time.perf_counter() - t
        with ThreadPoolExecutor(max_workers=max(1, workers - 1)) as small_pool:
            futures.update({name: small_pool.submit(comp, name, low) for name, low in small.items()})
            compiled = {name: f.result() for name, f in futures.items()}
    times["lower"] = lower_s
    times["total"] = time.perf_counter() - t0
    pool_execs = [compiled[f"reset_pool_{gi}"] for gi in range(len(parts))] if need_init else []
    if parts:
        times["reset_pool"] = sum(times.pop(f"reset_pool_{gi}") for gi in range(len(parts))) if need_init else 0.0

    def reset_pool():
        return env.skill_order([jax.block_until_ready(p()) for p in pool_execs]) if parts else ()

    return Programs(
        reset_pool=reset_pool if need_init else None,
        init=compiled.get("init"),
        run=compiled["run"],
        batched=batched,
        num_devices=D,
        mesh=mesh,
        state_sharding=sh,
        compile_s=times,
        abstract_state=abstract,
    )


# ============================================================================================ driver
def _process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = float(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _abstract_with_shardings(programs: Programs) -> Any:
    if programs.state_sharding is not None:
        return jax.tree.map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
            programs.abstract_state,
            programs.state_sharding,
        )
    dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=dev), programs.abstract_state)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_chunks: int | None = None,
    log: Callable[[str], None] | None = None,
    hooks: RunHooks | None = None,
    num_devices: int | None = None,
    wandb: bool = False,
    from_step: int | None = None,
) -> dict:
    """Run (or resume) a training job; returns the summary dict (also written to summary.json).

    resume: continue from the latest checkpoint in ``config.out_dir`` (exactly: same metrics and params
        as an uninterrupted run); a corrupt or incomplete newest checkpoint is skipped for the newest intact
        one, saying so (`jaxmeta.checkpoint.find_resume_point`: every item is read before anything
        compiles). from_step: resume from this checkpoint (env steps) instead; the newer ones are moved to
        ``<run>/checkpoints-discarded/``. overwrite: replace the jaxmeta files of an existing run directory (see
        `jaxmeta.checkpoint.prepare_run_dir`). max_chunks: stop after this many chunks in this call
        (the job is then resumable; used by tests to simulate an interruption).
    hooks: optional run extensions, a `jaxmeta.interfaces.RunHooks` (`jaxmeta.finetune.FinetuneHooks` is
        the one user): compile its own programs, a fresh run's initial state, a zero-shot evaluation at
        chunk 0, extra evaluations, additions to the summary. None: `jaxmeta.interfaces.NoHooks`; an
        object lacking a member is a TypeError before anything is done.
    num_devices: shard over at most this many devices (`plan_devices`; None: its default, 1 on a CPU).
        Several processes (`jaxmeta.distributed`, initialized before): every process calls train with the
        same config and shares the run directory; the run shards over every device of every process,
        process 0 alone writes the run's files and prints, all of them write and read the checkpoints.
    wandb: also log the metrics.csv scalars and the config to Weights & Biases (`jaxmeta.metrics_log.WandbLog`;
        ImportError before anything is done when the wandb package is missing). The scalars always go to
        TensorBoard event files in ``<run>/tb/`` too.
    """
    from jaxmeta import __version__
    from pathlib import Path

    from jaxmeta import distributed
    from jaxmeta.checkpoint import CONFIG_FILE, CheckpointError, Checkpointer, prepare_run_dir
    from jaxmeta.metrics_log import MetricsFileError, MetricsLog, WandbLog, import_wandb, nanmean, progress_bar

    if from_step is not None and not resume:
        raise ValueError("from_step (--from-step) chooses the checkpoint to resume from: it needs resume (--resume)")
    check_ported(config.benchmark, config.split)
    multi = jax.process_count() > 1
    primary = distributed.is_primary()
    if multi and hooks is not None:
        raise ValueError("run hooks (fine-tuning) run in one process; this is process "
                         f"{jax.process_index()} of {jax.process_count()}")
    hooks = check_hooks(hooks)
    if wandb and primary:
        import_wandb()
    errors = (ValueError, CheckpointError, MetricsFileError)
    run_dir = Path(distributed.agree(lambda: str(prepare_run_dir(config, resume=resume, overwrite=overwrite)),
                                     "run_dir", errors))
    cfg = config.replace(out=str(run_dir))
    say = log or (lambda s: print(s, flush=True))
    if not primary:
        say = lambda s: None  # noqa: E731  (process 0 speaks for the run)
    t_start = time.perf_counter()
    age_at_start = _process_age_s()

    if num_devices is not None and not 1 <= num_devices <= len(jax.devices()):
        raise ValueError(f"num_devices must be in [1, {len(jax.devices())}] (the {jax.default_backend()} devices "
                         f"of this process), got {num_devices!r}")
    restored = point = None
    if resume:  # fail fast on a mismatched/corrupt checkpoint: read all of it before compiling
        from jaxmeta.checkpoint import config_diff, find_resume_point, load_config

        if (run_dir / CONFIG_FILE).is_file():
            diff = config_diff(load_config(run_dir), cfg)
            if diff:
                lines = ", ".join(f"{k}: run {a!r} vs now {b!r}" for k, (a, b) in diff.items())
                raise CheckpointError(f"run {str(run_dir)!r} was started with a different config ({lines})")
        read = {}

        def read_point():
            read["point"] = find_resume_point(run_dir, cfg, from_step, discard=not multi)
            return read["point"].step

        steps = distributed.gather(read_point, "resume_point", errors)  # (every process has read when it returns)
        point = read["point"]
        if len(set(steps)) > 1:
            raise CheckpointError(f"the processes would resume from different checkpoints ({steps}, in process "
                                  f"order): do they all see the same run directory {str(run_dir)!r}?")
        if multi:
            from jaxmeta.checkpoint import discard_newer

            if primary:
                discard_newer(run_dir, point)
            distributed.barrier("resume_discarded")
        moved = f"{', '.join(str(s) for s, _ in point.discarded)} moved to {run_dir / 'checkpoints-discarded'}"
        if point.skipped:
            (bad, why), more = point.skipped[0], point.skipped[1:]
            say(f"warning: checkpoint {bad} is unusable ({why}"
                + (f"; so are {', '.join(str(s) for s, _ in more)}" if more else "")
                + f"): resuming from checkpoint {point.step}, the newest intact one ({moved}; details in "
                f"{run_dir / 'error.log'})")
        elif point.discarded:
            say(f"resuming from checkpoint {point.step} (--from-step); the newer checkpoints {moved}")
        MetricsLog(run_dir, cfg.skills).check_resumable()
    trainer = make_train(cfg, num_devices=plan_devices(cfg, num_devices) if num_devices is not None or multi else None)
    if multi and trainer.learner.between_chunks is not None:
        raise ValueError(f"algo {cfg.algo!r} with task_sampling {cfg.paco.task_sampling!r} updates the learner on the "
                         "host between chunks, which a multi-process run does not do; run it in one process")
    if primary:
        (run_dir / CONFIG_FILE).write_text(__import__("json").dumps(cfg.to_dict(), indent=2))

    say(
        f"jaxmeta train: {cfg.benchmark} ({len(cfg.skills)} skill(s) x {cfg.envs_per_skill} envs), algo {cfg.algo}, "
        f"replay {cfg.replay_kind}, seeds {cfg.num_seeds}, {cfg.num_chunks} chunks x {cfg.env_steps_per_chunk} "
        f"env steps, run dir {run_dir}"
    )
    cache_dir = jax.config.jax_compilation_cache_dir
    say("compiling: the first launch of a configuration compiles for minutes on a CPU"
        + (f"; the persistent cache ({cache_dir}) makes the next ones start in seconds" if cache_dir
           else " (no persistent compilation cache is enabled: envs._runtime.enable_compilation_cache)") + " ...")
    graphs = getattr(trainer.env, "num_physics_groups", 0)
    if jax.default_backend() == "cpu" and graphs > CPU_GRAPHS_COMPILED:
        say(f"note: this program holds {graphs} physics graphs; on the project's 2-core / 24 GB CPU the most that "
            f"has compiled in one program is {CPU_GRAPHS_COMPILED} (MT50's 17 did not: docs/families.md)")
    programs = compile_programs(trainer, need_init=not resume)
    cs = programs.compile_s
    parts = [f"run {cs['run']:.1f}s"] + [f"{k.replace('_', ' ')} {cs[k]:.1f}s" for k in ("reset_pool", "init") if k in cs]
    say(
        f"compiled in {cs['total']:.1f}s (trace+lower {cs['lower']:.1f}s; {', '.join(parts)})"
        + (f"; sharded over {programs.num_devices} devices" if programs.num_devices > 1 else "")
        + (f" of {jax.process_count()} processes" if multi else "")
    )
    hooks.compile(trainer, programs)

    S = cfg.num_seeds
    batched = programs.batched
    start_chunk = 0
    if resume:
        ts, meta = point.state_from(_abstract_with_shardings(programs)), point.meta
        start_chunk = int(meta["chunk"])
        say(f"resumed from chunk {start_chunk} ({meta['env_steps']} env steps)")
        restored = meta
    else:
        ts = hooks.init_state(trainer, programs)
        if ts is None:
            ts = programs.init_state(trainer.run_key() if batched else trainer.seed_key(0))

    mlog = MetricsLog(run_dir, trainer.skills, task_ids=cfg.task_ids,
                      extra_evals=dict(hooks.eval_skills) or None,
                      wandb=WandbLog(run_dir, cfg.to_dict(), resume=resume) if wandb and primary else None,
                      writer=primary)
    mlog.start(resume_chunk=start_chunk if resume else None)
    title = f"{cfg.benchmark} {cfg.algo}{' PER' if cfg.per else ''} ({S} seed{'s' if S > 1 else ''})"
    E = cfg.env_steps_per_chunk
    bar = progress_bar(cfg.num_chunks * E, start_chunk * E, progress and primary)

    host = lambda tree: jax.tree.map(  # noqa: E731  (device -> host, leading seed axis always)
        lambda x: x if batched else x[None], distributed.to_host(tree)
    )
    chunk_times, eval_s, ckpt_s = [], 0.0, 0.0
    last_eval = None
    eval_history: list[float] = []
    best = -1.0
    if resume:  # evaluation history of the interrupted process, for best / last-3 in the summary
        by_chunk: dict[int, list[float]] = {}
        for r in mlog.read():
            if r["kind"] == "eval" and r.get("eval_success", "") not in ("", "nan"):
                by_chunk.setdefault(int(r["chunk"]), []).append(float(r["eval_success"]))
        eval_history = [float(np.mean(v)) for _, v in sorted(by_chunk.items())]
        best = max(eval_history, default=-1.0)
    t_loop = time.perf_counter()

    def evaluate_now(c, env_steps, updates):
        nonlocal eval_s, last_eval, best, ts
        t0 = time.perf_counter()
        keys = trainer.eval_key(c)
        ts, ev = programs.evaluate(ts, keys if batched else keys[0])
        ev = host(ev)
        actor = trainer.learner.actor_params(ts.agent)
        extra = {k: host(v) for k, v in hooks.evaluate(trainer, actor, c).items()}
        eval_s += time.perf_counter() - t0
        mlog.log_eval(c, env_steps, updates, ev, time.perf_counter() - t_loop, extra=extra)
        last_eval = (c, ev, env_steps)
        eval_history.append(float(np.mean(ev["success"])))
        best = max(best, eval_history[-1])
        mlog.plot(title)

    if hooks.eval_at_start and not resume:  # zero-shot, chunk 0
        zeros = np.zeros((S,), np.int64)
        evaluate_now(0, zeros, zeros)
    end_chunk = cfg.num_chunks if max_chunks is None else min(cfg.num_chunks, start_chunk + int(max_chunks))
    interrupted = False
    c = start_chunk
    t_first_step = None
    try:  # (opened after find_resume_point moved any newer checkpoints aside)
        ckpt = Checkpointer(run_dir, cfg.keep_checkpoints)
    except BaseException:
        bar.close()
        mlog.close()
        raise
    try:
        for c in range(start_chunk + 1, end_chunk + 1):
            t0 = time.perf_counter()
            if t_first_step is None:
                t_first_step = t0 - t_start
            ts, m = programs.chunk(ts)
            m = host(m)
            if trainer.learner.between_chunks is not None:  # host-side learner step (TaCo-online)
                agent = trainer.learner.between_chunks(ts.agent, c, batched)
                ts = ts.replace(agent=jax.tree.map(lambda new, old: jax.device_put(new, old.sharding), agent, ts.agent))
            dt = time.perf_counter() - t0
            chunk_times.append(dt)
            sps = E * S / dt
            mlog.log_train(c, m, time.perf_counter() - t_loop, sps)
            bar.update(E)
            post = {"sps": f"{sps:,.0f}", "train_succ": f"{nanmean(m['episode_success']):.2f}"}
            if cfg.due(c, cfg.eval_every):
                evaluate_now(c, m["env_steps"], m["updates"])
            if last_eval is not None:
                post["eval_succ"] = f"{np.mean(last_eval[1]['success']):.2f}"
            bar.set_postfix(post)
            if cfg.due(c, cfg.checkpoint_every) or c == end_chunk:
                t0 = time.perf_counter()
                meta = {
                    "chunk": c,
                    "env_steps": int(m["env_steps"][0]),
                    "updates": int(m["updates"][0]),
                    "num_seeds": S,
                    "jaxmeta_version": __version__,
                }
                policy = {"actor_params": trainer.learner.actor_params(ts.agent),
                          "critic_params": trainer.learner.critic_params(ts.agent)}
                ckpt.save(int(m["env_steps"][0]), ts, cfg, meta, policy)
                ckpt_s += time.perf_counter() - t0
    except KeyboardInterrupt:
        interrupted = True
        bar.write(f"interrupted during chunk {c}; resume with --resume (latest checkpoint: step {ckpt.latest_step()})")
    finally:
        bar.close()
        ckpt.close()
        mlog.close()

    completed = (not interrupted) and c >= cfg.num_chunks
    loop_s = time.perf_counter() - t_loop
    train_s = float(sum(chunk_times))
    n_chunks = len(chunk_times)
    steady = chunk_times[1:] if n_chunks > 1 else chunk_times
    summary: dict = {
        "run_dir": str(run_dir),
        "benchmark": cfg.benchmark,
        "algo": cfg.algo,
        "replay": cfg.replay_kind,
        "num_seeds": S,
        "skills": list(trainer.skills),
        "completed": completed,
        "resumed_from_chunk": restored["chunk"] if restored else None,
        "chunks_run": n_chunks,
        "chunk": c,
        "num_chunks": cfg.num_chunks,
        "env_steps_per_seed": int(c * E),
        "devices": programs.num_devices,
        "processes": jax.process_count(),
        "platform": jax.devices()[0].platform,
        "timings_s": {
            "compile": cs,
            "train": train_s,
            "eval": eval_s,
            "checkpoint": ckpt_s,
            "loop": loop_s,
            "total": time.perf_counter() - t_start,
            # from the call of train() (and from the process's start) to the first chunk's first env step
            "to_first_step": t_first_step,
            "process_to_first_step": None if t_first_step is None or age_at_start is None
            else age_at_start + t_first_step,
        },
        "env_steps_per_s": (E * S * n_chunks / train_s) if train_s > 0 else None,
        "env_steps_per_s_steady": (E * S * len(steady) / sum(steady)) if steady else None,
        "updates_per_s": (cfg.iters_per_chunk * cfg.updates_per_step * S * n_chunks / train_s) if train_s > 0 else None,
        "best_eval_success": best if best >= 0 else None,
        "eval_success_last3_mean": float(np.mean(eval_history[-3:])) if eval_history else None,
        "config": cfg.to_dict(),
    }
    if last_eval is not None:
        ec, ev, steps = last_eval
        summary["final_eval"] = {
            "chunk": ec,
            "env_steps": int(steps[0]),
            "success": float(np.mean(ev["success"])),
            "success_per_seed": [float(x) for x in ev["success"]],
            "success_per_task": {s: float(np.mean(ev["success_per_task"][:, t])) for t, s in enumerate(trainer.skills)},
            "return": float(np.mean(ev["return"])),
        }
    hooks.finish(summary, mlog.read())
    mlog.write_summary(summary)
    mlog.plot(title)
    fe = summary.get("final_eval")
    say(
        f"done: {c}/{cfg.num_chunks} chunks, {c * E:,} env steps/seed in {summary['timings_s']['total']:.0f}s "
        f"(compile {cs['total']:.0f}s, train {train_s:.0f}s, eval {eval_s:.0f}s); "
        f"{summary['env_steps_per_s'] or 0:,.0f} env steps/s"
        + (f"; final eval success {fe['success']:.2f}" if fe else "")
    )
    return summary
