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

Around them: `jaxmeta.programs.compile_programs` compiles a run's programs once (ahead of time, timed
separately from running): the env's reset pool (`envs.multitask`: one small executable per physics
group), `init` given that pool (no physics), and `run`, which holds the env step exactly once and serves
both training chunks and evaluations (so the env is compiled once per run); `jaxmeta.driver.train(cfg,
...)` (``jaxmeta train``) runs chunks and between chunks evaluates, logs and checkpoints;
`jaxmeta.sharding` lays a run out over devices. (``jaxmeta.train.train`` / ``compile_programs`` /
``Programs`` still import from here.)

The program (`jaxmeta.run_program.build_run`: chunks, evaluation through the same env step, the seed vmap)
is assembled around an algorithm's `Loop`: its data path. The replay loop below (`replay_loop`) is the default; on-policy
algorithms bring their own (`AlgoSpec.loop`: PPO's rollouts, `jaxmeta.agents.ppo.train`; RL2's trials,
`jaxmeta.agents.rl2.train`).

One iteration of the run's (replay) loop (`lax.fori_loop`; single seed):

1. ``steps_per_update`` batched env steps, each: action = uniform random in [-1, 1] while
   ``env_steps < warmup_steps`` else a tanh-Gaussian policy sample; ``env.step``; the transition
   ``(obs, action, reward, next_obs = final_obs (true next obs before auto-reset), discount = 1,
   skill_id)`` is added to the replay buffer (Meta-World never terminates; time-limit truncation
   bootstraps, so the discount is always 1), unless it holds a NaN / inf (metric
   ``nonfinite_transition``, per chunk; the MJX envs never produce one: they zero non-finite actions,
   ``nonfinite_action``, and reset diverged physics, ``physics_nan``).
2. if ``env_steps >= learning_starts``: ``updates_per_step`` learner updates (a nested scan). The
   learner (`jaxmeta.learner.Learner`, built by the algorithm's `jaxmeta.config.AlgoSpec`) samples its
   own batch: for SAC / PaCo one batch (uniform / skill-balanced / prioritized with IS weights) and, for
   PER, writes back priorities ``|TD| + eps``.

Warm-up and learning flags come from the step counter, which is identical across seeds, so in the
vmapped multi-seed program they stay scalar `lax.cond` predicates (no wasted work); the seed axis is
vmapped *inside* the time scan. (The env's auto-reset is a gather from the reset pool carried in its
state, `envs.multitask`, plus a select: no branch to lose under the seed vmap.)

Evaluation (`run` with evaluating=True, or `evaluate`): every env of the training batch starts a fresh
episode from the reset pool (tasks drawn with the evaluation key), the deterministic policy ``tanh(mean)``
(or, with ``eval_policy="sample"``, a sample of the policy, keys from the evaluation key) acts for
``ceil(eval_episodes / envs_per_skill)`` episodes of ``max_path_length`` steps per env, and the
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
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxmeta.config import ALGOS, TrainConfig, check_ported
from jaxmeta.interfaces import TrainEnv
from jaxmeta.learner import Learner
from jaxmeta.networks import Networks
from jaxmeta.nstep import init_window, push as push_nstep
from jaxmeta.replay import ReplayBuffer, ReplayState, make_replay
from jaxmeta.run_program import advance, branch, build_run, finite_rows, scan_env_steps, step_env
from jaxmeta.sac import Transition, zero_transition
from jaxmeta.sharding import plan_devices, state_shardings

__all__ = [
    "TrainState",
    "Trainer",
    "make_env",
    "make_train",
    "plan_devices",
    "scan_updates",
    "state_shardings",
    "step_transition",
]

Metrics = dict[str, jax.Array]


@struct.dataclass
class TrainState:
    """Everything a run needs to continue exactly (one pytree; add a leading seed axis when batched).

    agent: the learner's state (`SACState` for mtsac/mhsac, `PaCoState` for paco, ...): params, target
        critic, temperature, optimizer states, update count.
    replay: ReplayState (an on-policy loop: its last rollout). env: MultiTaskState (envs.multitask or
    envs.toy). loop_state: what the algorithm's loop carries per env besides the env (the replay loop's
    n-step window, `jaxmeta.nstep`, when ``n_step > 1``; RL2's hidden states and trial counters), or None.
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
    loop_state: Any = None


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

    return build_env(
        config.benchmark,
        split=config.split,
        task_indices=config.task_indices,
        skill_ids=config.skill_ids,
        envs_per_skill=envs_per_skill,
        max_path_length=config.max_path_length,
        seed=config.seed,
    )


# ----------------------------------------------------------------------------------------------- build
class Loop(NamedTuple):
    """What an algorithm's data path puts into the run program (`make_train` assembles the rest).

    learner: the `Learner` (networks, init, update, actor / critic params). buffer: its data store
    (`ReplayBuffer`), or None where the loop keeps its own (on-policy rollouts).
    init(key, reset_pool=None) -> TrainState: one seed's fresh state.
    env_steps((ts, ep), warm (K,) bool, evaluating) -> ((ts, ep), summed `step_stats`): K batched env
        steps of one seed (acting, storing what the learner needs; evaluating: the deterministic policy,
        nothing stored).
    updates(ts) -> (ts, metrics): one iteration's learning; no_updates(ts) -> (ts, zeros like them).
    fresh_loop_state(loop_state) -> loop_state: the loop state of envs that all start a fresh episode
        (an evaluation's start), or None to keep it (it is restored after the evaluation either way).
    """

    learner: Learner
    buffer: Any
    init: Callable[..., TrainState]
    env_steps: Callable
    updates: Callable
    no_updates: Callable
    fresh_loop_state: Callable | None = None


def make_train(config: TrainConfig, num_devices: int | None = None) -> Trainer:
    """Build the pure functions of a run. Builds the envs (no compile); raises ValueError for an
    unported skill before doing anything expensive.

    The algorithm's `AlgoSpec.loop` (if any; on-policy algorithms) builds its data path, else the replay
    loop of the module docstring (`replay_loop`).

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
    spec = ALGOS[cfg.algo]
    loop = spec.make_loop(cfg, env, mesh) if spec.loop is not None else replay_loop(cfg, env, mesh)
    learner, init, N = loop.learner, loop.init, env.num_envs

    def init_batch(run_key: jax.Array, reset_pool: Any = None) -> TrainState:
        keys = jax.vmap(lambda i: jax.random.fold_in(run_key, i))(jnp.arange(cfg.num_seeds))
        pool = env.reset_pool() if reset_pool is None else reset_pool
        # the seeds one after another (each exactly a single-seed init), not vmapped: XLA:CPU deadlocks when
        # independent batched QR factorisations (orthogonal initialisers: RL2's GRU) run at once
        # (docs/reliability.md)
        return jax.lax.map(lambda k: init(k, pool), keys)

    def begin_eval(ts: TrainState, key: jax.Array) -> TrainState:
        """Every env starts a fresh episode (tasks drawn with `key`) from the reset pool: no physics. The
        loop's key is derived from `key` too, so what an evaluation samples (PEARL's z) depends on the
        policy and `key` alone (the training key is restored afterwards)."""
        ts = ts.replace(
            env=env.start(key, ts.env.reset_pool),
            key=jax.random.fold_in(key, 1),
            episode_return=jnp.zeros((N,), jnp.float32),
        )
        return ts if loop.fresh_loop_state is None else ts.replace(loop_state=loop.fresh_loop_state(ts.loop_state))

    def make_run(batched: bool):
        return build_run(
            cfg,
            env,
            loop.env_steps,
            loop.updates,
            loop.no_updates,
            begin_eval,
            batched=batched,
            state_metrics=learner.state_metrics,
        )

    run_single, run_batched = make_run(False), make_run(True)
    dummy_key = jnp.zeros((2,), jnp.uint32)

    def chunk(ts: TrainState) -> tuple[TrainState, Metrics]:
        ts, m, _ = run_single(ts, dummy_key, False)
        return ts, m

    def chunk_batch(ts: TrainState) -> tuple[TrainState, Metrics]:
        ts, m, _ = run_batched(ts, jnp.zeros((cfg.num_seeds, 2), jnp.uint32), False)
        return ts, m

    def evaluate(ts: TrainState, key: jax.Array) -> Metrics:
        """Per-skill success of the deterministic policy of `ts` (see `build_run`); `ts` is not changed."""
        return run_single(ts, key, True)[2]

    def evaluate_batch(ts: TrainState, keys: jax.Array) -> Metrics:
        return run_batched(ts, keys, True)[2]

    return Trainer(
        config=cfg,
        mesh=mesh,
        env=env,
        networks=learner.networks,
        learner=learner,
        buffer=loop.buffer,
        init=init,
        chunk=chunk,
        init_batch=init_batch,
        chunk_batch=chunk_batch,
        evaluate=evaluate,
        evaluate_batch=evaluate_batch,
        run=run_single,
        run_batch=run_batched,
    )


def replay_loop(cfg: TrainConfig, env: TrainEnv, mesh: Mesh | None) -> Loop:
    """The off-policy data path (module docstring): act, step, add to the replay; U learner updates."""
    buffer = make_replay(
        cfg.buffer_capacity,
        cfg.num_skills,
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
    N, A, U = env.num_envs, env.action_size, cfg.updates_per_step

    # ---------------------------------------------------------------------------------- init
    def init(key: jax.Array, reset_pool: Any = None) -> TrainState:
        """A fresh run's state. reset_pool: the env's `reset_pool()` (computed here when None; the driver
        computes it once, in its own small programs, so that this one holds no physics)."""
        k_agent, k_env, k_loop = jax.random.split(key, 3)
        env_state = env.start(k_env, env.reset_pool() if reset_pool is None else reset_pool)
        example = zero_transition(env.observation_size, A)
        return TrainState(
            agent=learner.init(k_agent),
            replay=buffer.init(example),
            env=env_state,
            key=k_loop,
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((N,), jnp.float32),
            episodes=jnp.zeros((), jnp.int32),
            loop_state=init_window(cfg.n_step, N, env.observation_size, A) if cfg.n_step > 1 else None,
        )

    # ------------------------------------------------------------------------- env step (1 seed)
    def env_step(carry, warm: jax.Array, evaluating) -> tuple[tuple, Metrics]:
        """One batched env step; carry = (ts, ep) with ep (N,) int32 the evaluation episodes each env
        finished so far. Training: explore (uniform random while `warm`, else a policy sample) and
        add the transition to the replay. Evaluating: the policy of `cfg.eval_policy` (tanh(mean), or a
        sample), nothing stored."""
        ts = carry[0]
        key, k_act = jax.random.split(ts.key)
        obs, skill_id = ts.env.obs, ts.env.skill_id
        sample = (
            (lambda: learner.act(ts.agent, obs, skill_id, k_act, ts.env_steps))
            if learner.act is not None
            else (lambda: networks.sample_action(learner.actor_params(ts.agent), obs, skill_id, k_act)[0])
        )
        explore = lambda: jax.lax.cond(  # noqa: E731
            warm, lambda: jax.random.uniform(k_act, (N, A), jnp.float32, -1.0, 1.0), sample
        )
        if cfg.eval_policy == "sample":
            exploit = sample
        else:
            exploit = lambda: networks.deterministic_action(learner.actor_params(ts.agent), obs, skill_id)  # noqa: E731
        action = branch(evaluating, exploit, explore)
        new = step_env(env, ts.env, action)  # the program's only env step
        transition = step_transition(obs, action, new, skill_id)
        window = ts.loop_state
        if cfg.n_step > 1 and evaluating is not True:  # store the n-step transition that ends here
            window, transition, started = push_nstep(window, transition, new.done, cfg.sac.discount)
            if evaluating is not False:
                window = jax.tree.map(lambda old, w: jnp.where(evaluating, old, w), ts.loop_state, window)
        else:
            started = True
        # a transition with a NaN / inf anywhere (a custom env's; the MJX envs sanitise theirs) is not stored
        finite = finite_rows(transition)
        store = finite if started is True else finite & started
        if isinstance(evaluating, bool):
            replay = ts.replay if evaluating else buffer.add(ts.replay, transition, valid=store)
        else:  # a masked add, not a cond: a cond returning the replay would copy the whole storage every step
            replay = buffer.add(ts.replay, transition, valid=store & jnp.logical_not(evaluating))
        not_stored = jnp.logical_not(finite)
        return advance(cfg, env, carry, new, skill_id, not_stored, replay=replay, loop_state=window, key=key)

    # K batched env steps; warm (K,) bool (unbatched under the seed vmap)
    return Loop(learner, buffer, init, scan_env_steps(env_step), *scan_updates(learner, U))


def step_transition(obs: jax.Array, action: jax.Array, new: Any, skill_id: jax.Array) -> Transition:
    """The (N,) transitions of one batched env step: `obs` and `action` before it, `new` the env state after it
    (reward, ``next_obs = final_obs``: the true next observation before any auto-reset; discount 1: Meta-World
    never terminates, time-limit truncation bootstraps)."""
    return Transition(
        obs=obs,
        action=action,
        reward=new.reward,
        next_obs=new.final_obs,
        discount=jnp.ones_like(new.reward),
        skill_id=skill_id,
    )


def scan_updates(learner: Learner, U: int) -> tuple[Callable, Callable]:
    """``(updates, no_updates)`` of a replay loop (single seed): `U` scanned ``learner.update`` calls on
    ``TrainState.replay`` (metrics averaged over them, counted in ``TrainState.updates``), or zeros shaped
    like their metrics."""

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

    return updates, no_updates


# ----------------------------------------------------------------------------- moved (import paths kept)
_MOVED = {
    "train": "jaxmeta.driver",
    "CPU_GRAPHS_COMPILED": "jaxmeta.driver",
    "Programs": "jaxmeta.programs",
    "compile_programs": "jaxmeta.programs",
}


def __getattr__(name: str):
    """`jaxmeta.train.train` / `compile_programs` / `Programs` live in `jaxmeta.driver` / `jaxmeta.programs`
    (which import this module); imported from here on first use, so the old import paths keep working."""
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'jaxmeta.train' has no attribute {name!r}")
