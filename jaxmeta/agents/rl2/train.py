"""RL2 in the trainer (``TrainConfig.algo = "rl2"``, ``jaxmeta train --algo rl2``): trials of one task, a
recurrent policy that carries its hidden state over the trial's episodes, recurrent PPO.

`make_rl2_loop(config, env, mesh) -> jaxmeta.train.Loop`; `jaxmeta.train.make_train` assembles the run
program around it. Per env the loop carries (``TrainState.loop_state``, `TrialState`) the GRU state, the
previous action / reward / done (the network's inputs) and the episodes done in the current trial. One
iteration (single seed; ``N`` envs, ``T = config.steps_per_update``):

1. ``T`` batched env steps acting with `RL2.act` (the env gets the raw Gaussian sample clipped to [-1, 1]);
   an episode that ends before its trial's last one restarts on the *same* task (`env.restart` with the
   task it ran; a gather from the reset pool), so a trial is ``rl2.episodes_per_trial`` episodes of one
   task; at a trial's end the env has already drawn a new task (its auto-reset), and the hidden state and
   previous inputs are zeroed at the next step. The `RecurrentRollout` (with ``h0``, the GRU state before
   the first step) is kept in ``TrainState.replay``.
2. one `RL2.update` on it (recurrent PPO over whole sequences; `TrainConfig.ppo` settings).

Statistics count trials: a trial's success is its last episode's (after the agent has seen the task for
``episodes_per_trial - 1`` episodes), its return the trial's sum of rewards, both in training and in
evaluation (the policy's mean, or samples with ``eval_policy="sample"``; ``eval_episodes`` trials per skill,
held-out tasks with ``--split test``; no gradient step: meta-testing, `jaxmeta.meta_test`).
``TrainState.episodes`` still counts episodes.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxmeta.agents.ppo.networks import clip_action
from jaxmeta.agents.rl2.networks import RL2NetConfig, make_rl2_networks
from jaxmeta.agents.rl2.rl2 import RL2, RecurrentRollout, make_rl2
from jaxmeta.agents.ppo.train import guarded_update, rollout_init, rollout_steps, rollout_updates
from jaxmeta.learner import Learner, no_memoryless_policy
from jaxmeta.meta_test import meta_test  # noqa: F401  (jaxmeta.agents.rl2.train.meta_test, as before)
from jaxmeta.run_program import advance, finite_rows, step_env
from jaxmeta.train import Loop

__all__ = ["TrialState", "make_rl2_learner", "make_rl2_loop"]


@struct.dataclass
class TrialState:
    """Per env: h (N,H) GRU state; prev_action (N,A) (the clipped action the env got), prev_reward (N,),
    prev_done (N,) bool: the next step's inputs; fresh (N,) bool: the next step starts a trial;
    episodes (N,) int32: episodes finished in the current trial."""

    h: jax.Array
    prev_action: jax.Array
    prev_reward: jax.Array
    prev_done: jax.Array
    fresh: jax.Array
    episodes: jax.Array


def _rl2(config) -> RL2:
    o = config.rl2
    net = RL2NetConfig(
        obs_dim=config.network.obs_dim,
        action_dim=config.network.action_dim,
        hidden=o.hidden,
        gru=o.gru,
        init_log_std=float(o.init_log_std),
    )
    return make_rl2(config.ppo, make_rl2_networks(net))


def _load_policy(state, policy):
    """`state` acting with an RL2 policy export ``{"params", "obs_stats"}`` (plain dicts once restored)."""
    from jaxmeta.agents.ppo import normalize as N

    stats = policy["obs_stats"]
    return state.replace(
        params=policy["params"], obs_stats=N.RunningStats(**stats) if isinstance(stats, dict) else stats
    )


def make_rl2_learner(config, buffer: Any = None, constrain_batch: Any = None) -> Learner:
    """The RL2 `Learner`: ``update(state, rollout, key)`` (one `RL2.update`; a non-finite new state is not
    applied, metric ``nonfinite_update``). Its `Networks` view refuses memoryless acting; ``load_policy``
    puts a policy export back (`jaxmeta.meta_test`)."""
    rl2 = _rl2(config)
    return Learner(
        networks=no_memoryless_policy("rl2", "is recurrent (it acts on its trial's history)"),
        init=rl2.init,
        update=guarded_update(rl2.update),
        actor_params=lambda s: {"params": s.params, "obs_stats": s.obs_stats},
        critic_params=lambda s: s.params,
        load_policy=_load_policy,
    )


def make_rl2_loop(config, env, mesh=None) -> Loop:
    """The trial loop of the module docstring (`mesh`: the trainer's; loop state and rollout replicated)."""
    cfg = config
    if not hasattr(env, "restart"):
        raise ValueError(f"algo 'rl2' needs an env with restart() (trials of one task); {type(env).__name__} has none")
    rl2 = _rl2(cfg)
    learner = make_rl2_learner(cfg)
    N, A, O, K = env.num_envs, env.action_size, env.observation_size, cfg.steps_per_update
    E = cfg.rl2.episodes_per_trial

    def fresh_trials(_=None) -> TrialState:
        return TrialState(
            h=rl2.initial_hidden(N),
            prev_action=jnp.zeros((N, A), jnp.float32),
            prev_reward=jnp.zeros((N,), jnp.float32),
            prev_done=jnp.zeros((N,), bool),
            fresh=jnp.ones((N,), bool),
            episodes=jnp.zeros((N,), jnp.int32),
        )

    def empty_rollout() -> RecurrentRollout:
        z = lambda *shape, dtype=jnp.float32: jnp.zeros((K, N) + shape, dtype)  # noqa: E731
        return RecurrentRollout(
            obs=z(O),
            prev_action=z(A),
            prev_reward=z(),
            prev_done=z(dtype=bool),
            reset=z(dtype=bool),
            action=z(A),
            log_prob=z(),
            value=z(),
            reward=z(),
            trial_end=z(dtype=bool),
            bootstrap_value=jnp.zeros((N,), jnp.float32),
            h0=rl2.initial_hidden(N),
        )

    init = rollout_init(learner, env, empty_rollout, fresh_trials)

    def env_step(carry, evaluating):
        ts = carry[0]
        tr: TrialState = ts.loop_state
        key, k_act = jax.random.split(ts.key)
        obs = ts.env.obs
        inputs = (tr.h, obs, tr.prev_action, tr.prev_reward, tr.prev_done, tr.fresh)
        if evaluating is True and cfg.eval_policy == "mean":
            h, raw = rl2.deterministic_action(ts.agent, *inputs)
            log_prob = value = jnp.zeros((N,), jnp.float32)
        else:
            h, raw, log_prob, value = rl2.act(ts.agent, *inputs, k_act)
            if evaluating is not False and cfg.eval_policy == "mean":
                h_det, det = rl2.deterministic_action(ts.agent, *inputs)
                h, raw = jnp.where(evaluating, h_det, h), jnp.where(evaluating, det, raw)
        action = clip_action(raw)
        new = step_env(env, ts.env, action)  # the program's only env step
        done = new.done
        episodes = tr.episodes + done.astype(jnp.int32)
        trial_end = done & (episodes >= E)
        new = env.restart(new, done & ~trial_end, ts.env.task_index)  # the trial's next episode: same task
        row = dict(
            obs=obs,
            prev_action=tr.prev_action,
            prev_reward=tr.prev_reward,
            prev_done=tr.prev_done,
            reset=tr.fresh,
            action=raw,
            log_prob=log_prob,
            value=value,
            reward=new.reward,
            trial_end=trial_end,
        )
        keep = lambda x: jnp.where(trial_end.reshape(trial_end.shape + (1,) * (x.ndim - 1)), jnp.zeros_like(x), x)  # noqa: E731
        tr = TrialState(
            h=h,
            prev_action=keep(action),
            prev_reward=keep(new.reward),
            prev_done=done & ~trial_end,
            fresh=trial_end,
            episodes=jnp.where(trial_end, 0, episodes),
        )
        # statistics per trial: its end, its last episode's success, its whole return
        carry, stats = advance(cfg, env, carry, new, new.skill_id, ~finite_rows(row), trial_end, key=key, loop_state=tr)
        return carry, (stats, row)

    def to_rollout(ts0, ts, rows) -> RecurrentRollout:
        tr = ts.loop_state
        _, _, _, boot = rl2.act(
            ts.agent, tr.h, ts.env.obs, tr.prev_action, tr.prev_reward, tr.prev_done, tr.fresh, ts.key
        )
        return RecurrentRollout(bootstrap_value=boot, h0=ts0.loop_state.h, **rows)

    env_steps = rollout_steps(env_step, K, to_rollout)
    return Loop(learner, None, init, env_steps, *rollout_updates(learner), fresh_loop_state=fresh_trials)
