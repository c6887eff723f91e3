"""PPO in the trainer (``TrainConfig.algo = "ppo"``, ``jaxmeta train --algo ppo``): the on-policy loop.

`make_ppo_loop(config, env, mesh) -> jaxmeta.train.Loop`; `jaxmeta.train.make_train` assembles the run
program around it, so chunks, evaluation through the same env step, several seeds, checkpoints, resume
and logging are the SAC runs' ones. One iteration of the loop (single seed; ``N`` envs,
``T = config.steps_per_update``):

1. a rollout: ``T`` batched env steps, each acting with `PPO.act` of the current `PPOState` (a raw
   Gaussian sample; the env gets it clipped to ``[-1, 1]``), recording ``obs``, the raw action, its log
   probability, ``V(obs)``, the reward, the time-limit truncation (``done``; Meta-World never
   terminates) and ``V(final_obs)`` for the truncated steps; then ``V`` of the observation after the
   last step (``bootstrap_value``). The rollout is kept in ``TrainState.replay`` (its only data store).
2. one `PPO.update` on it (``ppo.num_epochs`` x ``ppo.num_minibatches`` Adam steps; GAE, clipped
   surrogate, observation statistics merged afterwards).

Evaluating, the deterministic policy ``clip(mean)`` (samples with ``eval_policy="sample"``) acts and nothing
is recorded. ``TrainState.updates`` counts `PPO.update` calls. The learner's policy export (``actor_params``)
is ``{"policy", "obs_stats"}`` and its `jaxmeta.networks.Networks` view normalises observations with those
statistics, so checkpoints
evaluate and render like SAC ones (``jaxmeta eval``). A non-finite update (NaN / inf anywhere in the new
state) is not applied (metric ``nonfinite_update``), as in `jaxmeta.learner.sampled_update`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxmeta.agents.ppo import normalize as N
from jaxmeta.agents.ppo.networks import clip_action, make_ppo_networks, sample_gaussian
from jaxmeta.agents.ppo.ppo import PPO, Rollout, make_ppo
from jaxmeta.learner import PPO_SCALARS, Learner, keep_if_finite
from jaxmeta.networks import Networks
from jaxmeta.run_program import advance, finite_rows, step_env
from jaxmeta.train import Loop, TrainState

__all__ = ["guarded_update", "make_ppo_learner", "make_ppo_loop", "rollout_init", "rollout_steps", "rollout_updates"]


def _ppo(config) -> PPO:
    return make_ppo(config.ppo, make_ppo_networks(config.network))


def _policy_networks(config) -> Networks:
    """The `Networks` view of the PPO policy: actor params ``{"policy", "obs_stats"}``, observations
    normalised inside; ``sample_action`` gives the clipped sample and its (unclipped) log-density,
    ``deterministic_action`` ``clip(mean)``. The critic is the value net (the action is ignored)."""
    nets = make_ppo_networks(config.network)
    p = config.ppo

    def norm(stats, obs):
        if isinstance(stats, dict):  # a restored policy export (`jaxmeta.checkpoint.restore_policy`): plain dicts
            stats = N.RunningStats(**stats)
        return N.normalize(stats, obs, clip=p.obs_clip) if p.normalize_obs else obs

    def actor_apply(params, obs, skill_id):
        return nets.policy_apply(params["policy"], norm(params["obs_stats"], obs), skill_id)

    def sample_action(params, obs, skill_id, key):
        mean, log_std = actor_apply(params, obs, skill_id)
        action, log_prob = sample_gaussian(mean, log_std, key)
        return clip_action(action), log_prob

    return Networks(
        actor_init=lambda key: {"policy": nets.policy_init(key), "obs_stats": N.init(nets.obs_dim)},
        critic_init=nets.value_init,
        actor_apply=actor_apply,
        critic_apply=lambda params, obs, action, skill_id: nets.value_apply(params, obs, skill_id)[None],
        sample_action=sample_action,
        deterministic_action=lambda params, obs, skill_id: clip_action(actor_apply(params, obs, skill_id)[0]),
    )


def guarded_update(update_fn, extra: tuple[str, ...] = ()):
    """An on-policy learner's ``update(state, rollout, key) -> (state, rollout, metrics)`` from
    ``update_fn(state, rollout, key) -> (state, metrics)``: a non-finite new state is not applied (metric
    ``nonfinite_update``); the metrics kept are `PPO_SCALARS`, ``entropy``, ``learning_rate`` and `extra`."""

    def update(state, rollout, key):
        new, m = update_fn(state, rollout, key)
        state, m = keep_if_finite(new, state, {k: m[k] for k in PPO_SCALARS + ("entropy", "learning_rate") + extra})
        return state, rollout, m

    return update


def rollout_init(learner: Learner, env, empty_rollout, loop_state=lambda: None):
    """``init(key, reset_pool=None) -> TrainState`` of an on-policy loop: the learner's state, an empty
    rollout (``empty_rollout()``) in ``TrainState.replay``, started envs and ``loop_state()``."""

    def init(key: jax.Array, reset_pool: Any = None) -> TrainState:
        k_agent, k_env, k_loop = jax.random.split(key, 3)
        return TrainState(
            agent=learner.init(k_agent),
            replay=empty_rollout(),
            env=env.start(k_env, env.reset_pool() if reset_pool is None else reset_pool),
            key=k_loop,
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((env.num_envs,), jnp.float32),
            episodes=jnp.zeros((), jnp.int32),
            loop_state=loop_state(),
        )

    return init


def rollout_steps(env_step, K: int, to_rollout):
    """``env_steps((ts, ep), warm, evaluating)`` of an on-policy loop (no warm-up): `K` scanned calls of
    ``env_step((ts, ep), evaluating) -> ((ts, ep), (stats, row))``, statistics summed; unless evaluating,
    ``to_rollout(ts_before, ts_after, rows)`` replaces ``ts.replay`` (a traced `evaluating` keeps the old one)."""

    def env_steps(carry, warm, evaluating):
        del warm
        ts0 = carry[0]
        (ts, ep), (stats, rows) = jax.lax.scan(lambda c, _: env_step(c, evaluating), carry, None, length=K)
        stats = jax.tree.map(lambda x: jnp.sum(x, axis=0), stats)
        if evaluating is True:
            return (ts, ep), stats
        rollout = to_rollout(ts0, ts, rows)
        if evaluating is not False:
            rollout = jax.tree.map(lambda old, new: jnp.where(evaluating, old, new), ts.replay, rollout)
        return (ts.replace(replay=rollout), ep), stats

    return env_steps


def rollout_updates(learner: Learner):
    """``(updates, no_updates)`` of an on-policy loop: one ``learner.update`` on the rollout in
    ``TrainState.replay`` (counted in ``TrainState.updates``), or zeros shaped like its metrics."""

    def updates(ts: TrainState):
        key, sub = jax.random.split(ts.key)
        agent, rollout, m = learner.update(ts.agent, ts.replay, sub)
        return ts.replace(agent=agent, replay=rollout, key=key, updates=ts.updates + 1), m

    def no_updates(ts: TrainState):
        shapes = jax.eval_shape(updates, ts)[1]
        return ts, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    return updates, no_updates


def make_ppo_learner(config, buffer: Any = None, constrain_batch: Any = None) -> Learner:
    """The PPO `Learner`: ``update(state, rollout, key) -> (state, rollout, metrics)`` (one `PPO.update`;
    a non-finite new state is not applied). `buffer` / `constrain_batch` are unused (no replay)."""
    ppo = _ppo(config)
    return Learner(
        networks=_policy_networks(config),
        init=ppo.init,
        update=guarded_update(ppo.update, ("reward_mean_per_skill",)),
        actor_params=lambda s: {"policy": s.params["policy"], "obs_stats": s.obs_stats},
        critic_params=lambda s: s.params["value"],
    )


def make_ppo_loop(config, env, mesh=None) -> Loop:
    """The on-policy data path of the module docstring (`mesh`: the trainer's; the rollout and the agent
    are replicated, the env batch sharded as in the replay loop)."""
    cfg = config
    ppo = _ppo(cfg)
    learner = make_ppo_learner(cfg)
    Nenv, A, O, K = env.num_envs, env.action_size, env.observation_size, cfg.steps_per_update

    def empty_rollout() -> Rollout:
        z = lambda *shape, dtype=jnp.float32: jnp.zeros((K, Nenv) + shape, dtype)  # noqa: E731
        return Rollout(
            obs=z(O),
            action=z(A),
            log_prob=z(),
            value=z(),
            reward=z(),
            terminated=z(dtype=bool),
            truncated=z(dtype=bool),
            final_value=z(),
            bootstrap_value=jnp.zeros((Nenv,), jnp.float32),
            skill_id=z(dtype=jnp.int32),
        )

    init = rollout_init(learner, env, empty_rollout)

    def env_step(carry, evaluating):
        ts = carry[0]
        key, k_act = jax.random.split(ts.key)
        obs, skill_id = ts.env.obs, ts.env.skill_id
        if evaluating is True and cfg.eval_policy == "mean":  # the evaluation-only program: no sampling, no values
            raw = ppo.deterministic_action(ts.agent, obs, skill_id)
            log_prob = value = jnp.zeros((Nenv,), jnp.float32)
        else:
            raw, log_prob, value = ppo.act(ts.agent, obs, skill_id, k_act)
            if evaluating is not False and cfg.eval_policy == "mean":
                raw = jnp.where(evaluating, ppo.deterministic_action(ts.agent, obs, skill_id), raw)
        new = step_env(env, ts.env, clip_action(raw))  # the program's only env step
        final_value = jnp.zeros_like(value) if evaluating is True else ppo.value(ts.agent, new.final_obs, skill_id)
        row = dict(
            obs=obs,
            action=raw,
            log_prob=log_prob,
            value=value,
            reward=new.reward,
            terminated=jnp.zeros((Nenv,), bool),
            truncated=new.done,
            final_value=final_value,
            skill_id=skill_id,
        )
        carry, stats = advance(cfg, env, carry, new, skill_id, jnp.logical_not(finite_rows(row)), key=key)
        return carry, (stats, row)

    def to_rollout(_ts0, ts, rows) -> Rollout:
        return Rollout(bootstrap_value=ppo.value(ts.agent, ts.env.obs, ts.env.skill_id), **rows)

    return Loop(learner, None, init, rollout_steps(env_step, K, to_rollout), *rollout_updates(learner))
