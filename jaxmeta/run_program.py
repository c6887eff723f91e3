"""The run program shared by the training loops: `build_run` assembles an algorithm's loop (`jaxmeta.train.Loop`)
into ``run(ts, eval_key, evaluating) -> (ts, train_metrics, eval_metrics)``; `step_stats` / `eval_summary` /
`summarize` are the per-step statistics and chunk summaries every loop reports; `step_env` is the program's
one env step (a named sub-program, so tests can count it); `finite_rows` and `branch` are small helpers.

Shapes: ``N`` envs (skill-major rows), ``T`` conditioning skills, ``S`` env skills, ``K`` batched env steps
per iteration (``steps_per_update``). Statistics are summed over a chunk's iterations (single seed; the
``batched`` run vmaps them over a leading seed axis).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxmeta.config import TrainConfig
from jaxmeta.interfaces import TrainEnv

__all__ = [
    "advance",
    "branch",
    "build_run",
    "eval_summary",
    "finite_rows",
    "scan_env_steps",
    "stat_shapes",
    "step_env",
    "step_stats",
    "summarize",
]

Metrics = dict[str, jax.Array]


def stat_shapes(cfg: TrainConfig, env: TrainEnv) -> dict[str, tuple[int, ...]]:
    """Shapes of one env step's statistics (`step_stats`), summed over a run's iterations."""
    T, S_env = cfg.num_skills, env.num_skills
    return {
        "reward": (T,),
        "finished": (T,),
        "return": (T,),
        "success": (T,),
        "physics_nan": (),
        "nonfinite_action": (),
        "nonfinite_transition": (),
        "eval_count": (S_env,),
        "eval_success": (S_env,),
        "eval_return": (S_env,),
    }


def step_stats(cfg: TrainConfig, env: TrainEnv, new, skill_id, ret, ep, not_stored) -> Metrics:
    """Statistics of one batched env step (single seed): `new` the env state after it, `skill_id` (N,)
    the conditioning ids the step acted with, `ret` (N,) each env's episode return including this step,
    `ep` (N,) int32 the evaluation episodes each env finished before it, `not_stored` (N,) bool the rows
    whose transition was not stored. Per skill id: reward, finished episodes, their returns and
    successes. Evaluation: the first ``cfg.eval_episodes`` episodes of every env skill count (instance
    i's k-th episode is the skill's episode ``k * envs_per_skill + i``), per env skill as metaworld
    reports them."""
    n, S_env, T = cfg.envs_per_skill, env.num_skills, cfg.num_skills
    instance = jnp.tile(jnp.arange(n, dtype=jnp.int32), S_env)  # row -> instance index within its skill
    env_skill = jnp.repeat(jnp.arange(S_env, dtype=jnp.int32), n)  # row -> env skill index
    done = new.done
    seg = lambda x: jax.ops.segment_sum(x.astype(jnp.float32), skill_id, num_segments=T)  # noqa: E731
    counted = done & (ep * n + instance < cfg.eval_episodes)
    seg_skill = lambda x: jax.ops.segment_sum(x.astype(jnp.float32), env_skill, num_segments=S_env)  # noqa: E731
    return {
        "reward": seg(new.reward),
        "finished": seg(done),
        "return": seg(jnp.where(done, ret, 0.0)),
        "success": seg(done & new.episode_success),
        "physics_nan": jnp.sum(new.physics_nan.astype(jnp.float32)),
        "nonfinite_action": jnp.sum(new.nonfinite_action),
        "nonfinite_transition": jnp.sum(not_stored.astype(jnp.float32)),
        "eval_count": seg_skill(counted),
        "eval_success": seg_skill(counted & new.episode_success),
        "eval_return": seg_skill(jnp.where(counted, ret, 0.0)),
    }


def advance(cfg: TrainConfig, env: TrainEnv, carry, new, skill_id, not_stored, ends=None, **changes):
    """The bookkeeping of one batched env step of a loop (single seed): ``carry = (ts, ep)`` before it, `new`
    the env state after it. Statistics (`step_stats`) count `ends` ((N,) bool: where an episode, or a
    trial of episodes, ended; default ``new.done``); the state gets env `new`, the running return (reset
    where `ends`), the counters (env steps, finished episodes ``new.done``) and `changes` (key, replay,
    loop_state, ...). Returns ``((ts, ep), stats)``."""
    ts, ep = carry
    ends = new.done if ends is None else ends
    ret = ts.episode_return + new.reward
    stats = step_stats(cfg, env, new.replace(done=ends), skill_id, ret, ep, not_stored)
    ts = ts.replace(
        env=new,
        env_steps=ts.env_steps + env.num_envs,
        episode_return=jnp.where(ends, 0.0, ret),
        episodes=ts.episodes + jnp.sum(new.done.astype(jnp.int32)),
        **changes,
    )
    return (ts, ep + ends.astype(jnp.int32)), stats


def scan_env_steps(env_step: Callable) -> Callable:
    """``env_steps(carry, warm (K,) bool, evaluating)`` of a loop that stores as it steps: `K` scanned calls of
    ``env_step(carry, warm[k], evaluating) -> (carry, stats)``, the statistics summed."""

    def env_steps(carry, warm: jax.Array, evaluating):
        carry, stats = jax.lax.scan(lambda c, w: env_step(c, w, evaluating), carry, warm)
        return carry, jax.tree.map(lambda x: jnp.sum(x, axis=0), stats)

    return env_steps


def eval_summary(stats: Metrics) -> Metrics:
    """Per-skill evaluation success / return of a run's summed `step_stats` (single seed)."""
    count = jnp.maximum(stats["eval_count"], 1.0)
    sp, rp = stats["eval_success"] / count, stats["eval_return"] / count
    return {
        "success": jnp.mean(sp),
        "success_per_skill": sp,
        "return": jnp.mean(rp),
        "return_per_skill": rp,
        "episodes_per_skill": stats["eval_count"],
    }


def summarize(cfg: TrainConfig, ts: Any, stats: Metrics, m: Metrics, n_learn: jax.Array, state_metrics=None) -> Metrics:
    """A training chunk's metrics (single seed): counters, episode statistics, the learner's metrics `m`
    summed over the `n_learn` iterations that learned (NaN when none did), and `state_metrics(ts.agent)`."""
    K, N = cfg.steps_per_update, cfg.num_envs
    nan = jnp.float32(jnp.nan)
    out = {
        "env_steps": ts.env_steps,
        "updates": ts.updates,
        "episodes": ts.episodes,
        "reward": jnp.sum(stats["reward"]) / (cfg.iters_per_chunk * K * N),
        "reward_per_skill": stats["reward"] / (cfg.iters_per_chunk * K * cfg.envs_per_skill),
        "finished": jnp.sum(stats["finished"]),
        "physics_nan": stats["physics_nan"],
        "nonfinite_action": stats["nonfinite_action"],
        "nonfinite_transition": stats["nonfinite_transition"],
    }
    fin, fin_t = jnp.sum(stats["finished"]), stats["finished"]
    out["episode_return"] = jnp.where(fin > 0, jnp.sum(stats["return"]) / jnp.maximum(fin, 1), nan)
    out["episode_success"] = jnp.where(fin > 0, jnp.sum(stats["success"]) / jnp.maximum(fin, 1), nan)
    out["episode_success_per_skill"] = jnp.where(fin_t > 0, stats["success"] / jnp.maximum(fin_t, 1), nan)
    for k, v in m.items():
        out[k] = jnp.where(n_learn > 0, v / jnp.maximum(n_learn, 1), nan)
    if state_metrics is not None:  # read from the state at the end of the chunk
        out.update(state_metrics(ts.agent))
    return out


def build_run(
    cfg: TrainConfig,
    env: TrainEnv,
    env_steps: Callable,
    updates: Callable,
    no_updates: Callable,
    begin_eval: Callable,
    *,
    batched: bool,
    state_metrics: Callable | None = None,
):
    """``run(ts, eval_key, evaluating) -> (ts, train_metrics, eval_metrics)`` of a training loop:
    `cfg.iters_per_chunk` training iterations, or (evaluating) an evaluation of the current policy through
    the same env step. One iteration: ``env_steps((ts, ep), warm (K,) bool, evaluating) -> ((ts, ep),
    summed step_stats)`` (K = ``cfg.steps_per_update`` batched env steps), then, if ``env_steps >=
    cfg.learning_starts`` and not evaluating, ``updates(ts) -> (ts, metrics)``, else ``no_updates(ts)`` (its
    zeros). ``begin_eval(ts, key) -> ts`` starts every env's evaluation episode. All three act on one seed;
    `batched` vmaps them over a leading seed axis.

    evaluating: a Python bool (the program holds only that branch) or a traced () bool (one program for
    both: the env's physics is compiled once per run). An evaluation leaves the training state as it was
    (env state, keys, counters, and whatever `env_steps` keeps unchanged when evaluating: replay, agent):
    training does not depend on when or how often it is evaluated."""
    N, K = cfg.num_envs, cfg.steps_per_update
    # ceil(rounds * L / K) iterations of evaluation (L: the steps of one evaluated episode, or trial)
    eval_iters = -(-(-(-cfg.eval_episodes // cfg.envs_per_skill) * cfg.eval_episode_steps) // K)
    shapes = stat_shapes(cfg, env)
    seeds = cfg.num_seeds if batched else None
    if batched:  # `evaluating` closed over, not mapped: a Python bool stays one (static branch)
        env_fn = lambda c, w, e: jax.vmap(lambda c_, w_: env_steps(c_, w_, e), in_axes=(0, None))(c, w)  # noqa: E731
    else:
        env_fn = env_steps
    upd_fn = jax.vmap(updates) if batched else updates
    skip_fn = jax.vmap(no_updates) if batched else no_updates
    begin_fn = jax.vmap(begin_eval) if batched else begin_eval

    def summary(ts, stats, m, n_learn):
        return summarize(cfg, ts, stats, m, n_learn, state_metrics)

    summarize_fn = jax.vmap(summary) if batched else summary
    eval_fn = jax.vmap(eval_summary) if batched else eval_summary

    def iteration(carry, evaluating):
        ts, ep, stats_sum, m_sum, n_learn = carry
        steps = ts.env_steps[0] if batched else ts.env_steps  # identical across seeds
        warm = steps + N * jnp.arange(K, dtype=jnp.int32) < cfg.warmup_steps
        (ts, ep), stats = env_fn((ts, ep), warm, evaluating)
        learn = steps + N * K >= cfg.learning_starts
        if evaluating is not True:
            learn = learn & jnp.logical_not(evaluating)
        ts, m = skip_fn(ts) if evaluating is True else jax.lax.cond(learn, upd_fn, skip_fn, ts)
        w = learn.astype(jnp.float32)
        m_sum = jax.tree.map(lambda a, b: a + w * b, m_sum, m)
        stats_sum = jax.tree.map(jnp.add, stats_sum, stats)
        return ts, ep, stats_sum, m_sum, n_learn + w

    def run(ts: Any, eval_key: jax.Array, evaluating) -> tuple[Any, Metrics, Metrics]:
        keep = (ts.env, ts.key, ts.env_steps, ts.episode_return, ts.episodes, ts.loop_state)
        ts = branch(evaluating, lambda: begin_fn(ts, eval_key), lambda: ts)
        ep0 = jnp.zeros(((seeds,) if batched else ()) + (N,), jnp.int32)
        lead = (seeds,) if batched else ()
        stats0 = {k: jnp.zeros(lead + shape, jnp.float32) for k, shape in shapes.items()}
        m0 = skip_fn(ts)[1]  # zeros shaped like the learner's metrics
        carry = (ts, ep0, stats0, m0, jnp.zeros((), jnp.float32))
        if isinstance(evaluating, bool):
            iters = eval_iters if evaluating else cfg.iters_per_chunk
        else:
            iters = jnp.where(evaluating, eval_iters, cfg.iters_per_chunk)
        ts, _, stats, m, n_learn = jax.lax.fori_loop(0, iters, lambda _, c: iteration(c, evaluating), carry)
        ev = eval_fn(stats)
        restore = lambda: ts.replace(  # noqa: E731
            env=keep[0],
            key=keep[1],
            env_steps=keep[2],
            episode_return=keep[3],
            episodes=keep[4],
            loop_state=keep[5],
        )
        ts = branch(evaluating, restore, lambda: ts)
        return ts, summarize_fn(ts, stats, m, jnp.broadcast_to(n_learn, (seeds,) if batched else ())), ev

    return run


def finite_rows(batch) -> jax.Array:
    """(N,) bool: row i of every float leaf of `batch` (leading axis N) is finite."""
    leaves = [x for x in jax.tree.leaves(batch) if jnp.issubdtype(x.dtype, jnp.floating)]
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1) for x in leaves])


@functools.partial(jax.jit, static_argnums=0)
def step_env(env, state, action):
    """`env.step` as a named sub-program (inlined by XLA), so that tests can count a program's env steps."""
    return env.step(state, action)


def branch(pred, true_fn, false_fn):
    """`lax.cond(pred, true_fn, false_fn)`, or just the taken branch when pred is a Python bool."""
    if isinstance(pred, bool):
        return true_fn() if pred else false_fn()
    return jax.lax.cond(pred, true_fn, false_fn)
