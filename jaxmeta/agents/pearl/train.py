"""PEARL in the trainer (``TrainConfig.algo = "pearl"``, ``jaxmeta train --algo pearl``): off-policy meta-training
with a replay buffer per task and posterior sampling (Rakelly et al. 2019, Algorithm 1).

`make_pearl_loop(config, env, mesh) -> jaxmeta.train.Loop`; `jaxmeta.train.make_train` assembles the run
program around it. Shapes: ``N`` envs, ``L`` latent_dim, ``E = pearl.episodes_per_task``, ``T`` the tasks
of the run (every skill's task set), ``M = pearl.meta_batch``.

Per env the loop carries (``TrainState.loop_state``, `TaskBelief`) the latent ``z`` it acts with and the
natural parameters of its current task's posterior, summed over that task's transitions so far
(`jaxmeta.agents.pearl.encoder.posterior_from_sums`: the product of Gaussian factors, accumulated one
transition at a time). One batched env step (single seed):

1. an env starting a task draws ``z`` from the prior ``N(0, I)``; it acts on ``[obs, z]`` (uniform random
   actions during the warm-up, a policy sample in training, ``tanh(mean)`` evaluating);
2. the transition goes to its task's ring in the per-task replay (`task_replay`; not when evaluating) and
   its Gaussian factor into the env's posterior sums;
3. an episode that ends before the task's ``E``-th restarts on the same task (`env.restart`) with ``z``
   drawn from the posterior (posterior sampling, Sec. 4.3); after the ``E``-th the env's auto-reset
   has drawn a new task and the sums are cleared.

Then ``updates_per_step`` `PEARL.update` calls, each on ``M`` tasks drawn among those with data, with
``batch_size / M`` transitions of each and ``pearl.context_batch`` context transitions from each task's
newest ``E * max_path_length`` (its latest data, PEARL's encoder buffer).

Statistics count tasks as RL2 counts trials: a task's success is its last episode's (after ``E - 1``
episodes of context), its return the sum over its ``E`` episodes; evaluation runs ``eval_episodes`` such
trials per skill with no gradient step (``--split test``: the held-out tasks; `jaxmeta.meta_test`).
The sums in ``TaskBelief`` use the encoder of the step that added each factor (between updates within a
task they are not recomputed); evaluation holds the encoder fixed, so there they are exact.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmeta.agents.pearl.options import check_task_capacity
from jaxmeta.agents.pearl.encoder import Encoder, context_features, make_encoder, posterior_from_sums
from jaxmeta.agents.pearl.pearl import PEARL, make_pearl
from jaxmeta.agents.pearl.task_replay import TaskReplay, make_task_replay
from jaxmeta.learner import PEARL_SCALARS, SAC_SCALARS, Learner, keep_if_finite, no_memoryless_policy
from jaxmeta.networks import make_networks
from jaxmeta.run_program import advance, branch, finite_rows, scan_env_steps, step_env
from jaxmeta.sac import Transition
from jaxmeta.sac import zero_transition
from jaxmeta.train import Loop, TrainState, scan_updates, step_transition

__all__ = ["TaskBelief", "make_pearl_learner", "make_pearl_loop", "run_tasks"]


@struct.dataclass
class TaskBelief:
    """Per env: z (N,L) the latent it acts with; precision (N,L) and weighted_mu (N,L): sums of ``1 / var_n``
    and ``mu_n / var_n`` over its current task's transitions; fresh (N,) bool: the next step starts a task
    (z drawn from the prior there); episodes (N,) int32: episodes finished on the current task."""

    z: jax.Array
    precision: jax.Array
    weighted_mu: jax.Array
    fresh: jax.Array
    episodes: jax.Array


def _parts(config) -> tuple[PEARL, Encoder]:
    o, O, A = config.pearl, config.network.obs_dim, config.network.action_dim
    net = dataclasses.replace(config.network, obs_dim=O + o.latent_dim, num_skills=1, conditioning="onehot")
    encoder = make_encoder(O + A + 1 + (O if o.use_next_obs else 0), o.encoder_hidden, o.latent_dim)
    return make_pearl(dataclasses.replace(config.sac, num_skills=1), o, make_networks(net), encoder), encoder


def _features(config, t: Transition) -> jax.Array:
    return context_features(t.obs, t.action, t.reward, t.next_obs if config.pearl.use_next_obs else None)


def run_tasks(config, env) -> tuple[int, np.ndarray]:
    """(T, offset (S,)): the run's tasks (every skill's task set, skill-major) and each skill's first id."""
    sizes = np.array([len(t) for t in env.tasks], np.int64)
    return int(sizes.sum()), np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)


def make_pearl_learner(config, buffer: TaskReplay | None = None, constrain_batch: Any = None) -> Learner:
    """The PEARL `Learner`: ``update(state, task_replay, key)`` samples a meta-batch (module docstring) and
    runs one `PEARL.update` (a non-finite new state is not applied: ``nonfinite_update``). Its policy export
    is ``{"actor", "encoder"}`` (`load_policy` puts one back); its `Networks` view refuses memoryless acting.
    `buffer` None: a learner for restoring a saved policy (its update refuses to run)."""
    del constrain_batch
    cfg, o = config, config.pearl
    pearl, _ = _parts(cfg)
    B = cfg.batch_size // o.meta_batch
    recent = o.episodes_per_task * cfg.max_path_length

    def update(state, replay, key):
        if buffer is None:
            raise ValueError("make_pearl_learner(config, buffer=None) builds a learner without its task replay")
        k_sample, k_update = jax.random.split(key)
        _, batch, ctx = buffer.sample(replay, k_sample, o.meta_batch, B, o.context_batch, recent)
        new, m = pearl.update(state, batch, _features(cfg, ctx), k_update)
        state, m = keep_if_finite(new, state, {k: m[k] for k in SAC_SCALARS + PEARL_SCALARS if k in m})
        return state, replay, m

    return Learner(
        networks=no_memoryless_policy("pearl", "acts on a latent z inferred from its task's transitions"),
        init=pearl.init,
        update=update,
        actor_params=lambda s: {"actor": s.sac.actor_params, "encoder": s.encoder_params},
        critic_params=lambda s: s.sac.critic_params,
        load_policy=lambda s, p: s.replace(sac=s.sac.replace(actor_params=p["actor"]), encoder_params=p["encoder"]),
    )


def make_pearl_loop(config, env, mesh=None) -> Loop:
    """The per-task data path of the module docstring (`mesh`: the trainer's; the task replay and the
    loop state are replicated, the env batch sharded as in the replay loop)."""
    del mesh
    cfg, o = config, config.pearl
    if not hasattr(env, "restart"):
        raise ValueError(
            f"algo 'pearl' needs an env with restart() (episodes of one task); {type(env).__name__} has none"
        )
    T, offset = run_tasks(cfg, env)
    N, A, O, L, E = env.num_envs, env.action_size, env.observation_size, o.latent_dim, o.episodes_per_task
    buffer = make_task_replay(T, check_task_capacity(cfg.buffer_capacity, T, N))
    learner = make_pearl_learner(cfg, buffer)
    pearl, encoder = _parts(cfg)
    row_offset = jnp.asarray(np.repeat(offset, env.envs_per_skill))  # row -> its skill's first task id

    def fresh_belief(_=None) -> TaskBelief:
        zeros = jnp.zeros((N, L), jnp.float32)
        return TaskBelief(zeros, zeros, zeros, jnp.ones((N,), bool), jnp.zeros((N,), jnp.int32))

    def init(key: jax.Array, reset_pool: Any = None) -> TrainState:
        k_agent, k_env, k_loop = jax.random.split(key, 3)
        return TrainState(
            agent=learner.init(k_agent),
            replay=buffer.init(zero_transition(O, A)),
            env=env.start(k_env, env.reset_pool() if reset_pool is None else reset_pool),
            key=k_loop,
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            episode_return=jnp.zeros((N,), jnp.float32),
            episodes=jnp.zeros((), jnp.int32),
            loop_state=fresh_belief(),
        )

    def env_step(carry, warm: jax.Array, evaluating):
        ts = carry[0]
        b: TaskBelief = ts.loop_state
        key, k_prior, k_act, k_post = jax.random.split(ts.key, 4)
        obs, skill_id = ts.env.obs, ts.env.skill_id
        z = jnp.where(b.fresh[:, None], jax.random.normal(k_prior, (N, L)), b.z)
        explore = lambda: jax.lax.cond(  # noqa: E731
            warm,
            lambda: jax.random.uniform(k_act, (N, A), jnp.float32, -1.0, 1.0),
            lambda: pearl.act(ts.agent, obs, z, k_act),
        )
        if cfg.eval_policy == "sample":
            exploit = lambda: pearl.act(ts.agent, obs, z, k_act)  # noqa: E731
        else:
            exploit = lambda: pearl.act(ts.agent, obs, z, deterministic=True)  # noqa: E731
        action = branch(evaluating, exploit, explore)
        new = step_env(env, ts.env, action)  # the program's only env step
        transition = step_transition(obs, action, new, skill_id)
        finite = finite_rows(transition)
        task = row_offset + jnp.concatenate(ts.env.task_index)  # the tasks this step ran
        if evaluating is True:
            replay = ts.replay
        else:
            store = finite if evaluating is False else finite & jnp.logical_not(evaluating)
            replay = buffer.add(ts.replay, task, transition, store)
        mu_n, var_n = encoder.factors(ts.agent.encoder_params, _features(cfg, transition))
        w = finite.astype(jnp.float32)[:, None]
        precision = b.precision + w / var_n
        weighted_mu = b.weighted_mu + w * mu_n / var_n
        done = new.done
        episodes = b.episodes + done.astype(jnp.int32)
        task_end = done & (episodes >= E)
        again = done & ~task_end
        new = env.restart(new, again, ts.env.task_index)  # the task's next episode
        post_mu, post_var = posterior_from_sums(precision, weighted_mu)
        z_post = post_mu + jnp.sqrt(post_var) * jax.random.normal(k_post, (N, L))
        clear = task_end[:, None]
        belief = TaskBelief(
            z=jnp.where(again[:, None], z_post, z),
            precision=jnp.where(clear, 0.0, precision),
            weighted_mu=jnp.where(clear, 0.0, weighted_mu),
            fresh=task_end,
            episodes=jnp.where(task_end, 0, episodes),
        )
        # statistics per task: its end, its last episode's success, the return of its E episodes
        changes = dict(replay=replay, key=key, loop_state=belief)
        return advance(cfg, env, carry, new, skill_id, jnp.logical_not(finite), task_end, **changes)

    updates, no_updates = scan_updates(learner, cfg.updates_per_step)
    return Loop(learner, buffer, init, scan_env_steps(env_step), updates, no_updates, fresh_loop_state=fresh_belief)
