"""The training loop: a jitted, scanned chunk of (act -> env step -> replay add -> k SAC updates).

Pure functions (`make_train(config) -> Trainer`)::

    trainer = make_train(cfg)
    ts = trainer.init(key)                     # TrainState: SAC + replay + env state, key, counters
    ts, metrics = jax.jit(trainer.chunk, donate_argnums=0)(ts)   # cfg.iters_per_chunk iterations
    ev = jax.jit(trainer.evaluate)(trainer.learner.actor_params(ts.agent), key)  # per-skill success

    # several seeds in one compiled program (PureJaxRL style): leading axis S = cfg.num_seeds
    tsb = trainer.init_batch(jax.random.PRNGKey(cfg.seed))
    tsb, metrics = jax.jit(trainer.chunk_batch, donate_argnums=0)(tsb)

and the Python driver `train(cfg, ...)` (used by ``jaxmeta train``) that compiles the programs once
(ahead of time, timed separately from running), runs chunks, and between chunks evaluates, logs
(progress bar, ``metrics.csv``, ``summary.json``, ``learning_curve.png``) and checkpoints (orbax).

One iteration of the chunk's `lax.scan` (single seed):

1. ``steps_per_update`` batched env steps, each: action = uniform random in [-1, 1] while
   ``env_steps < warmup_steps`` else a tanh-Gaussian policy sample; ``env.step``; the transition
   ``(obs, action, reward, next_obs = final_obs (true next obs before auto-reset), discount = 1,
   task_id)`` is added to the replay buffer (Meta-World never terminates; time-limit truncation
   bootstraps, so the discount is always 1).
2. if ``env_steps >= learning_starts``: ``updates_per_step`` learner updates (a nested scan). The
   learner (`jaxmeta.learner.Learner`, built by the algorithm's `jaxmeta.config.AlgoSpec`) samples its
   own batch: for SAC / PaCo one batch (uniform / task-balanced / prioritized with IS weights) and, for
   PER, writes back priorities ``|TD| + eps``.

Warm-up and learning flags come from the step counter, which is identical across seeds, so in the
vmapped multi-seed program they stay scalar `lax.cond` predicates (no wasted work); the seed axis is
vmapped *inside* the time scan. (The env's auto-reset is a gather from the reset pool carried in its
state, `envs.multitask`, plus a select: no branch to lose under the seed vmap.)

Keys: the run key is ``PRNGKey(cfg.seed)``; seed ``i`` of a run uses ``fold_in(run_key, i)`` (so a
1-seed run is seed 0 of a multi-seed run); evaluation after chunk ``c`` uses
``fold_in(fold_in(PRNGKey(cfg.seed + 1), c), i)``, independent of training randomness, so a resumed
run evaluates exactly like an uninterrupted one.

Multi-device (`jax.sharding`): with ``D > 1`` devices the chunk is jitted with explicit shardings over a
1-D mesh ``("data",)``: single seed -> the env batch axis (every per-env leaf of the env state) and the
sampled replay batch axis are sharded, parameters, optimizer states, the replay storage and the env's
reset pool are replicated (each device holds the whole buffer; gradients are reduced by the partitioner); several
seeds -> the seed axis is sharded. ``D`` is the largest divisor of the sharded axis that is <= the
number of devices (``cfg`` can't know the machine). Multi-host: call ``jax.distributed.initialize()``
(coordinator address, num_processes, process_id; automatic on TPU pods / SLURM) in every process before
`make_train`; ``jax.devices()`` then lists every host's devices and the same program runs SPMD on all
hosts. (Only the single-host path is tested here: on CPU with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``.)
"""
from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxmeta.config import ALGOS, TrainConfig, check_ported
from jaxmeta.evaluate import make_evaluate
from jaxmeta.learner import SAC_SCALARS, Learner
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
    env: Any  # MultiTaskEnv / ToyMultiTaskEnv, envs_per_skill = cfg.envs_per_skill
    eval_env: Any  # same skills, envs_per_skill = cfg.eval_episodes
    networks: Networks
    learner: Learner
    buffer: ReplayBuffer
    init: Callable[[jax.Array], TrainState]
    chunk: Callable[[TrainState], tuple[TrainState, Metrics]]
    init_batch: Callable[[jax.Array], TrainState]
    chunk_batch: Callable[[TrainState], tuple[TrainState, Metrics]]
    evaluate: Callable[[Any, jax.Array], Metrics]
    evaluate_batch: Callable[[Any, jax.Array], Metrics]

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

    num_devices: devices to shard over (None: `plan_devices(config)`, i.e. as many of
    ``jax.devices()`` as divide the sharded axis). With 1 the functions contain no sharding."""
    check_ported(config.benchmark, config.split)
    cfg = config
    D = plan_devices(cfg) if num_devices is None else int(num_devices)
    if D < 1 or D > len(jax.devices()):
        raise ValueError(f"num_devices must be in [1, {len(jax.devices())}], got {num_devices!r}")
    mesh = Mesh(np.asarray(jax.devices()[:D]), ("data",)) if D > 1 else None
    env = make_env(cfg, cfg.envs_per_skill)
    eval_env = make_env(cfg, cfg.eval_episodes)
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
    B, U, K = cfg.batch_size, cfg.updates_per_step, cfg.steps_per_update

    # ---------------------------------------------------------------------------------- init
    def init(key: jax.Array) -> TrainState:
        k_agent, k_env, k_loop = jax.random.split(key, 3)
        env_state = env.reset(k_env)
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

    def init_batch(run_key: jax.Array) -> TrainState:
        keys = jax.vmap(lambda i: jax.random.fold_in(run_key, i))(jnp.arange(cfg.num_seeds))
        return jax.vmap(init)(keys)

    # ------------------------------------------------------------------------- env step (1 seed)
    def env_step(ts: TrainState, warm: jax.Array) -> tuple[TrainState, Metrics]:
        key, k_act = jax.random.split(ts.key)
        obs, task_id = ts.env.obs, ts.env.task_id
        action = jax.lax.cond(
            warm,
            lambda: jax.random.uniform(k_act, (N, A), jnp.float32, -1.0, 1.0),
            (lambda: learner.act(ts.agent, obs, task_id, k_act, ts.env_steps)) if learner.act is not None
            else (lambda: networks.sample_action(learner.actor_params(ts.agent), obs, task_id, k_act)[0]),
        )
        new = env.step(ts.env, action)
        replay = buffer.add(
            ts.replay,
            Transition(
                obs=obs,
                action=action,
                reward=new.reward,
                next_obs=new.final_obs,
                discount=jnp.ones((N,), jnp.float32),
                task_id=task_id,
            ),
        )
        ret = ts.episode_return + new.reward
        done = new.done
        seg = lambda x: jax.ops.segment_sum(x.astype(jnp.float32), task_id, num_segments=T)  # noqa: E731
        stats = {
            "reward": seg(new.reward),
            "finished": seg(done),
            "return": seg(jnp.where(done, ret, 0.0)),
            "success": seg(done & new.episode_success),
            "physics_nan": jnp.sum(new.physics_nan.astype(jnp.float32)),
            "nonfinite_action": jnp.sum(new.nonfinite_action),
        }
        ts = ts.replace(
            env=new,
            replay=replay,
            key=key,
            env_steps=ts.env_steps + N,
            episode_return=jnp.where(done, 0.0, ret),
            episodes=ts.episodes + jnp.sum(done.astype(jnp.int32)),
        )
        return ts, stats

    def env_steps(ts: TrainState, warm: jax.Array) -> tuple[TrainState, Metrics]:
        """K batched env steps; warm (K,) bool (unbatched under the seed vmap)."""
        ts, stats = jax.lax.scan(env_step, ts, warm)
        return ts, jax.tree.map(lambda x: jnp.sum(x, axis=0), stats)

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

    # -------------------------------------------------------------------------------- the chunk
    def make_chunk(batched: bool):
        seeds = cfg.num_seeds if batched else None
        env_fn = jax.vmap(env_steps, in_axes=(0, None)) if batched else env_steps
        upd_fn = jax.vmap(updates) if batched else updates
        skip_fn = jax.vmap(no_updates) if batched else no_updates

        def iteration(ts: TrainState, _):
            steps = ts.env_steps[0] if batched else ts.env_steps  # identical across seeds
            warm = steps + N * jnp.arange(K, dtype=jnp.int32) < cfg.warmup_steps
            ts, stats = env_fn(ts, warm)
            learn = steps + N * K >= cfg.learning_starts
            ts, m = jax.lax.cond(learn, upd_fn, skip_fn, ts)
            m["learned"] = jnp.broadcast_to(learn.astype(jnp.float32), (seeds,) if batched else ())
            return ts, (stats, m)

        def chunk(ts: TrainState) -> tuple[TrainState, Metrics]:
            ts, (stats, m) = jax.lax.scan(iteration, ts, None, length=cfg.iters_per_chunk)
            if batched:  # (iters, S, ...) -> (S, iters, ...)
                stats, m = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), (stats, m))
                return ts, jax.vmap(_summarize)(ts, stats, m)
            return ts, _summarize(ts, stats, m)

        return chunk

    def _summarize(ts: TrainState, stats: Metrics, m: Metrics) -> Metrics:
        stats = jax.tree.map(lambda x: jnp.sum(x, axis=0), stats)
        learned = m.pop("learned")
        n_learn = jnp.sum(learned)
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
        }
        fin, fin_t = jnp.sum(stats["finished"]), stats["finished"]
        out["episode_return"] = jnp.where(fin > 0, jnp.sum(stats["return"]) / jnp.maximum(fin, 1), nan)
        out["episode_success"] = jnp.where(fin > 0, jnp.sum(stats["success"]) / jnp.maximum(fin, 1), nan)
        out["episode_success_per_task"] = jnp.where(fin_t > 0, stats["success"] / jnp.maximum(fin_t, 1), nan)
        for k, v in m.items():
            w = learned.reshape(learned.shape + (1,) * (v.ndim - 1))
            out[k] = jnp.where(n_learn > 0, jnp.sum(v * w, axis=0) / jnp.maximum(n_learn, 1), nan)
        if learner.state_metrics is not None:  # read from the state at the end of the chunk
            out.update(learner.state_metrics(ts.agent))
        return out

    # -------------------------------------------------------------------------------- evaluation
    evaluate = make_evaluate(eval_env, networks, cfg.max_path_length)

    trainer = Trainer(
        config=cfg,
        mesh=mesh,
        env=env,
        eval_env=eval_env,
        networks=networks,
        learner=learner,
        buffer=buffer,
        init=init,
        chunk=make_chunk(False),
        init_batch=init_batch,
        chunk_batch=make_chunk(True),
        evaluate=evaluate,
        evaluate_batch=jax.vmap(evaluate),
    )
    return trainer


# =========================================================================================== sharding
def _largest_divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


def plan_devices(config: TrainConfig, num_devices: int | None = None) -> int:
    """Number of devices the run shards over: the largest divisor of the sharded axis (the seed axis
    with several seeds, else envs_per_skill -- so every skill's group splits evenly -- and the batch
    size) that is <= the number of available devices."""
    n = len(jax.devices()) if num_devices is None else num_devices
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
    """Compiled executables of a run and their compile times (seconds)."""

    init: Any
    chunk: Any
    evaluate: Any
    batched: bool
    num_devices: int
    mesh: Mesh | None
    state_sharding: Any
    compile_s: dict
    abstract_state: Any


def compile_programs(trainer: Trainer, *, need_init: bool = True) -> Programs:
    """Lower and compile (AOT) init / chunk / evaluate, compiling concurrently in threads; times each.

    The chunk is compiled with the train state donated. With several devices the shardings of
    `state_shardings` are used (and the sampled batch is constrained to the data axis)."""
    cfg = trainer.config
    batched = cfg.num_seeds > 1
    mesh = trainer.mesh
    D = 1 if mesh is None else mesh.devices.size
    init_fn = trainer.init_batch if batched else trainer.init
    chunk_fn = trainer.chunk_batch if batched else trainer.chunk
    eval_fn = trainer.evaluate_batch if batched else trainer.evaluate
    key = jax.random.PRNGKey(cfg.seed)
    abstract = jax.eval_shape(init_fn, key if batched else trainer.seed_key(0))
    actor_of = trainer.learner.actor_params
    actor_abs = actor_of(abstract.agent)
    eval_key_abs = jax.ShapeDtypeStruct((cfg.num_seeds, 2) if batched else (2,), jnp.uint32)

    sh = None
    if mesh is not None:
        sh = state_shardings(abstract, mesh, batched)
        rep = NamedSharding(mesh, P())
        data = NamedSharding(mesh, P("data"))
        jit_init = jax.jit(init_fn, out_shardings=sh)
        jit_chunk = jax.jit(chunk_fn, in_shardings=(sh,), out_shardings=(sh, data if batched else rep), donate_argnums=0)
        eval_in = (actor_of(sh.agent), data if batched else rep)
        jit_eval = jax.jit(eval_fn, in_shardings=eval_in, out_shardings=data if batched else rep)
    else:
        jit_init = jax.jit(init_fn)
        jit_chunk = jax.jit(chunk_fn, donate_argnums=0)
        jit_eval = jax.jit(eval_fn)

    t0 = time.perf_counter()
    lowered = {"chunk": jit_chunk.lower(abstract), "evaluate": jit_eval.lower(actor_abs, eval_key_abs)}
    if need_init:
        lowered["init"] = jit_init.lower(key if batched else trainer.seed_key(0))
    lower_s = time.perf_counter() - t0
    times = {"lower": lower_s}

    def comp(name):
        t = time.perf_counter()
        c = lowered[name].compile()
        times[name] = time.perf_counter() - t
        return c

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(lowered)) as pool:
        futures = {name: pool.submit(comp, name) for name in lowered}
        compiled = {name: f.result() for name, f in futures.items()}
    times["total"] = lower_s + time.perf_counter() - t0
    return Programs(
        init=compiled.get("init"),
        chunk=compiled["chunk"],
        evaluate=compiled["evaluate"],
        batched=batched,
        num_devices=D,
        mesh=mesh,
        state_sharding=sh,
        compile_s=times,
        abstract_state=abstract,
    )


# ============================================================================================ driver
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
    hooks: Any = None,
) -> dict:
    """Run (or resume) a training job; returns the summary dict (also written to summary.json).

    resume: continue from the latest checkpoint in ``config.out_dir`` (exactly: same metrics and params
        as an uninterrupted run). overwrite: replace the jaxmeta files of an existing run directory (see
        `jaxmeta.checkpoint.prepare_run_dir`). max_chunks: stop after this many chunks in this call
        (the job is then resumable; used by tests to simulate an interruption).
    hooks: optional run extensions (`jaxmeta.finetune.FinetuneHooks` is the one user), an object with
        ``compile(trainer, programs)`` (compile its own programs), ``init_state(trainer, programs) ->
        TrainState`` (a fresh run's initial state instead of ``programs.init``), ``eval_at_start`` (bool:
        evaluate before the first chunk, logged as chunk 0), ``eval_skills`` ({name: skills}: extra
        evaluations, logged as ``<name>_success[/<skill>]``), ``evaluate(trainer, actor_params, chunk) ->
        {name: metrics}`` and ``finish(summary, rows)`` (add to the summary from the metrics.csv rows).
    """
    from jaxmeta import __version__
    from jaxmeta.checkpoint import CONFIG_FILE, Checkpointer, prepare_run_dir
    from jaxmeta.metrics_log import MetricsLog, progress_bar

    check_ported(config.benchmark, config.split)
    run_dir = prepare_run_dir(config, resume=resume, overwrite=overwrite)
    cfg = config.replace(out=str(run_dir))
    say = log or (lambda s: print(s, flush=True))
    t_start = time.perf_counter()

    trainer = make_train(cfg)
    ckpt = Checkpointer(run_dir, cfg.keep_checkpoints)
    restored = None
    if resume:  # fail fast on a mismatched/corrupt checkpoint: read its config before compiling
        from jaxmeta.checkpoint import CheckpointError, config_diff

        saved_cfg_path = run_dir / CONFIG_FILE
        if saved_cfg_path.is_file():
            import json

            diff = config_diff(json.loads(saved_cfg_path.read_text()), cfg)
            if diff:
                lines = ", ".join(f"{k}: run {a!r} vs now {b!r}" for k, (a, b) in diff.items())
                raise CheckpointError(f"run {str(run_dir)!r} was started with a different config ({lines})")
    (run_dir / CONFIG_FILE).write_text(__import__("json").dumps(cfg.to_dict(), indent=2))

    say(
        f"jaxmeta train: {cfg.benchmark} ({len(cfg.skills)} skill(s) x {cfg.envs_per_skill} envs), algo {cfg.algo}, "
        f"replay {cfg.replay_kind}, seeds {cfg.num_seeds}, {cfg.num_chunks} chunks x {cfg.env_steps_per_chunk} "
        f"env steps, run dir {run_dir}"
    )
    say("compiling (init, chunk, evaluate) ...")
    programs = compile_programs(trainer, need_init=not resume)
    cs = programs.compile_s
    say(
        f"compiled in {cs['total']:.1f}s (trace+lower {cs['lower']:.1f}s; chunk {cs['chunk']:.1f}s, "
        f"evaluate {cs['evaluate']:.1f}s" + (f", init {cs['init']:.1f}s" if "init" in cs else "") + ", concurrently)"
        + (f"; sharded over {programs.num_devices} devices" if programs.num_devices > 1 else "")
    )
    if hooks is not None:
        hooks.compile(trainer, programs)

    S = cfg.num_seeds
    batched = programs.batched
    start_chunk = 0
    if resume:
        ts, meta = ckpt.restore(_abstract_with_shardings(programs), cfg)
        start_chunk = int(meta["chunk"])
        say(f"resumed from chunk {start_chunk} ({meta['env_steps']} env steps)")
        restored = meta
    elif hooks is not None:
        ts = hooks.init_state(trainer, programs)
    else:
        ts = programs.init(trainer.run_key() if batched else trainer.seed_key(0))

    mlog = MetricsLog(run_dir, trainer.skills, task_ids=cfg.task_ids,
                      extra_evals=getattr(hooks, "eval_skills", None))
    mlog.start(resume_chunk=start_chunk if resume else None)
    title = f"{cfg.benchmark} {cfg.algo}{' PER' if cfg.per else ''} ({S} seed{'s' if S > 1 else ''})"
    E = cfg.env_steps_per_chunk
    bar = progress_bar(cfg.num_chunks * E, start_chunk * E, progress)

    host = lambda tree: jax.tree.map(  # noqa: E731  (device -> host, leading seed axis always)
        lambda x: np.asarray(x) if batched else np.asarray(x)[None], jax.device_get(tree)
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
        nonlocal eval_s, last_eval, best
        t0 = time.perf_counter()
        keys = trainer.eval_key(c)
        actor = trainer.learner.actor_params(ts.agent)
        ev = host(programs.evaluate(actor, keys if batched else keys[0]))
        extra = {k: host(v) for k, v in hooks.evaluate(trainer, actor, c).items()} if hooks is not None else {}
        eval_s += time.perf_counter() - t0
        mlog.log_eval(c, env_steps, updates, ev, time.perf_counter() - t_loop, extra=extra)
        last_eval = (c, ev, env_steps)
        eval_history.append(float(np.mean(ev["success"])))
        best = max(best, eval_history[-1])
        mlog.plot(title)

    if hooks is not None and not resume and getattr(hooks, "eval_at_start", False):  # zero-shot, chunk 0
        zeros = np.zeros((S,), np.int64)
        evaluate_now(0, zeros, zeros)
    end_chunk = cfg.num_chunks if max_chunks is None else min(cfg.num_chunks, start_chunk + int(max_chunks))
    interrupted = False
    c = start_chunk
    try:
        for c in range(start_chunk + 1, end_chunk + 1):
            t0 = time.perf_counter()
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
            post = {"sps": f"{sps:,.0f}", "train_succ": f"{np.nanmean(m['episode_success']):.2f}"}
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
        "platform": jax.devices()[0].platform,
        "timings_s": {
            "compile": cs,
            "train": train_s,
            "eval": eval_s,
            "checkpoint": ckpt_s,
            "loop": loop_s,
            "total": time.perf_counter() - t_start,
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
    if hooks is not None:
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
