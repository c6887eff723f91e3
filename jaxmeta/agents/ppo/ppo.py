"""Multi-task PPO as pure functions: `make_ppo(config, networks) -> PPO` (init / update / act).

Conventions (``T`` rollout steps, ``N`` parallel envs, ``O`` obs_dim, ``A`` action_dim, ``K`` num_skills):

- A `Rollout` is time-major ``(T, N, ...)`` and was collected with `PPO.act` from one fixed `PPOState`
  (its parameters *and* its observation statistics). Observations are stored raw; actions are the raw
  Gaussian samples (the env gets `jaxmeta.agents.ppo.networks.clip_action` of them).
- `update(state, rollout, key)` does, all inside one jit-able function:

  1. ``r = reward_scale * reward``; GAE advantages and returns from the stored values
     (`jaxmeta.agents.ppo.losses.gae_advantages`, time-limit truncation bootstrapped from
     ``final_value``);
  2. flattens the ``T * N`` samples and normalises their observations with the statistics of ``state``
     (the ones the rollout was collected with, so the importance ratio is exactly 1 before the first
     gradient step);
  3. ``num_epochs`` epochs (outer `lax.scan`), each a fresh random permutation split into
     ``num_minibatches`` equal minibatches (inner `lax.scan`); per minibatch one Adam step on the negated
     PPO Eq. 9 objective ``L^CLIP(Eq. 7) + value_coef * L^VF - entropy_coef * S`` after global-norm
     gradient clipping, with advantages normalised per minibatch (optional);
  4. merges the rollout's observations into the running statistics (used from the next rollout on).

  ``T * N`` must be divisible by ``num_minibatches`` (checked when tracing).
- Learning rate: constant, or (``anneal_updates = U``) annealed linearly per `update` call: call
  ``k = state.step`` (0-based) uses ``learning_rate * max(0, 1 - k / U)`` for all its Adam steps (the
  first call the full rate, call ``U - 1`` a ``1 / U`` of it, later calls 0), as in the PPO paper's
  Atari setting.
- metrics: scalars, means over all minibatch steps of the update (``policy_loss``, ``value_loss``,
  ``entropy``, ``total_loss``, ``approx_kl``, ``clip_fraction``, ``grad_norm``, ``learning_rate``) and of
  the rollout (``advantage_mean``, ``advantage_std``, ``return_mean``, ``value_mean``,
  ``explained_variance`` of the stored values against the returns, ``reward_mean``), plus
  ``reward_mean_per_skill (K,)`` (0 for a task absent from the rollout).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmeta.agents.ppo import losses as L
from jaxmeta.agents.ppo import normalize as N
from jaxmeta.agents.ppo.options import PPOConfig
from jaxmeta.agents.ppo.networks import PPONetworks, clip_action, gaussian_entropy, gaussian_log_prob, sample_gaussian

__all__ = ["PPO", "PPOConfig", "PPOState", "Rollout", "learning_rate", "make_optimizer", "make_ppo"]

Params = Any
Metrics = dict[str, jax.Array]


@struct.dataclass
class Rollout:
    """``T`` steps of ``N`` envs, time-major, collected with `PPO.act` from one `PPOState`.

    obs (T,N,O) f32: raw (unnormalised) observation the action was taken in.
    action (T,N,A) f32: raw Gaussian sample (before `clip_action`).
    log_prob (T,N) f32: ``log pi(action | obs)`` at collection.
    value (T,N) f32: ``V(obs)`` at collection.
    reward (T,N) f32: reward of the step (before ``reward_scale``).
    terminated (T,N) bool: the step reached a true terminal state (future worth 0).
    truncated (T,N) bool: the step hit the time limit; the next ``obs`` is the auto-reset one.
    final_value (T,N) f32: ``V`` of the true final observation where ``truncated`` (ignored elsewhere).
    bootstrap_value (N,) f32: ``V`` of the observation after the last step.
    skill_id (T,N) int32 in [0, num_skills).
    """

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_value: jax.Array
    bootstrap_value: jax.Array
    skill_id: jax.Array


@struct.dataclass
class PPOState:
    """Full PPO training state (one pytree)."""

    params: Params  # {"policy": ..., "value": ...}
    opt_state: optax.OptState
    obs_stats: N.RunningStats  # running observation statistics (obs_dim,)
    step: jax.Array  # () int32, number of `update` calls done


class PPO(NamedTuple):
    """Pure PPO functions built by `make_ppo`.

    init(key) -> PPOState
    update(state, rollout, key) -> (state, metrics)
    act(state, obs (B,O), skill_id (B,), key) -> (action (B,A) raw sample, log_prob (B,), value (B,))
    value(state, obs (B,O), skill_id (B,)) -> value (B,)   (for ``final_value`` / ``bootstrap_value``)
    deterministic_action(state, obs (B,O), skill_id (B,)) -> clip_action(mean) (B,A)
    """

    init: Callable[[jax.Array], PPOState]
    update: Callable[[PPOState, Rollout, jax.Array], tuple[PPOState, Metrics]]
    act: Callable[..., tuple[jax.Array, jax.Array, jax.Array]]
    value: Callable[..., jax.Array]
    deterministic_action: Callable[..., jax.Array]


def _assert_rollout(rollout: Rollout) -> tuple[int, int]:
    chex.assert_rank(rollout.reward, 2)
    t_len, n = rollout.reward.shape
    chex.assert_shape(
        [rollout.log_prob, rollout.value, rollout.terminated, rollout.truncated, rollout.final_value, rollout.skill_id],
        (t_len, n),
    )
    chex.assert_shape([rollout.obs, rollout.action], (t_len, n, None))
    chex.assert_shape(rollout.bootstrap_value, (n,))
    chex.assert_type(rollout.skill_id, int)
    return t_len, n


def _per_skill_mean(x: jax.Array, skill_id: jax.Array, num_skills: int) -> jax.Array:
    """Mean of ``x`` over the samples of each task, ``(num_skills,)`` (0 for a task with no sample)."""
    total = jax.ops.segment_sum(x.reshape(-1), skill_id.reshape(-1), num_segments=num_skills)
    count = jax.ops.segment_sum(jnp.ones(x.size, x.dtype), skill_id.reshape(-1), num_segments=num_skills)
    return total / jnp.maximum(count, 1.0)


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Adam without its learning rate (global-norm clipped first when ``max_grad_norm``): the step size is
    applied by the caller (`learning_rate`), so it can depend on the traced update count (annealing) and
    the logged value is exactly the one used."""
    adam = optax.scale_by_adam(eps=config.adam_eps)
    return adam if config.max_grad_norm is None else optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)


def learning_rate(config: PPOConfig, step: jax.Array) -> jax.Array:
    """Step size of every Adam step of the ``step``-th `update` call (0-based; module docstring)."""
    if config.anneal_updates is None:
        return jnp.asarray(config.learning_rate, jnp.float32)
    frac = jnp.maximum(0.0, 1.0 - step.astype(jnp.float32) / config.anneal_updates)
    return config.learning_rate * frac


def make_ppo(config: PPOConfig, networks: PPONetworks) -> PPO:
    """PPO over any `PPONetworks` family (protocol in `jaxmeta.agents.ppo.networks`)."""
    optimizer = make_optimizer(config)

    def norm_obs(stats: N.RunningStats, obs: jax.Array) -> jax.Array:
        return N.normalize(stats, obs, clip=config.obs_clip) if config.normalize_obs else obs

    def init(key: jax.Array) -> PPOState:
        policy_key, value_key = jax.random.split(key)
        params = {"policy": networks.policy_init(policy_key), "value": networks.value_init(value_key)}
        return PPOState(
            params=params,
            opt_state=optimizer.init(params),
            obs_stats=N.init(networks.obs_dim),
            step=jnp.zeros((), jnp.int32),
        )

    def loss_fn(params: Params, mb: dict[str, jax.Array]) -> tuple[jax.Array, Metrics]:
        mean, log_std = networks.policy_apply(params["policy"], mb["obs"], mb["skill_id"])
        log_prob = gaussian_log_prob(mean, log_std, mb["action"])
        values = networks.value_apply(params["value"], mb["obs"], mb["skill_id"])
        adv = L.normalize_advantages(mb["advantage"]) if config.normalize_advantages else mb["advantage"]
        pg = L.clipped_surrogate_loss(log_prob, mb["log_prob"], adv, config.clip_eps)
        vf = L.value_loss(values, mb["value"], mb["return"], config.value_clip_eps)
        entropy = gaussian_entropy(log_std)
        total = L.ppo_total_loss(pg, vf, entropy, config.value_coef, config.entropy_coef)
        aux = {
            "policy_loss": pg,
            "value_loss": vf,
            "entropy": jnp.mean(entropy),
            "total_loss": total,
            "approx_kl": L.approx_kl(log_prob, mb["log_prob"]),
            "clip_fraction": L.clip_fraction(log_prob, mb["log_prob"], config.clip_eps),
        }
        return total, aux

    def sgd_step(carry, mb):
        params, opt_state, lr = carry
        grads, aux = jax.grad(loss_fn, has_aux=True)(params, mb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
        aux = {**aux, "grad_norm": optax.global_norm(grads), "learning_rate": lr}
        return (params, opt_state, lr), aux

    def update(state: PPOState, rollout: Rollout, key: jax.Array) -> tuple[PPOState, Metrics]:
        """``num_epochs x num_minibatches`` Adam steps on ``rollout``. Returns ``(state', metrics)``."""
        t_len, n = _assert_rollout(rollout)
        batch_size = t_len * n
        if batch_size % config.num_minibatches:
            raise ValueError(
                f"PPO.update: T * N = {t_len} * {n} = {batch_size} samples is not divisible by "
                f"PPOConfig.num_minibatches = {config.num_minibatches}"
            )
        mb_size = batch_size // config.num_minibatches
        reward = config.reward_scale * rollout.reward
        advantage, returns = L.gae_advantages(
            reward,
            rollout.value,
            rollout.bootstrap_value,
            rollout.terminated,
            rollout.truncated,
            rollout.final_value,
            config.discount,
            config.gae_lambda,
        )
        flat = jax.tree.map(
            lambda x: x.reshape(batch_size, *x.shape[2:]),
            {
                "obs": norm_obs(state.obs_stats, rollout.obs),
                "action": rollout.action,
                "log_prob": rollout.log_prob,
                "value": rollout.value,
                "advantage": advantage,
                "return": returns,
                "skill_id": rollout.skill_id,
            },
        )

        def epoch(carry, epoch_key):
            perm = jax.random.permutation(epoch_key, batch_size)
            minibatches = jax.tree.map(lambda x: x[perm].reshape(config.num_minibatches, mb_size, *x.shape[1:]), flat)
            return jax.lax.scan(sgd_step, carry, minibatches)

        (params, opt_state, _), aux = jax.lax.scan(
            epoch,
            (state.params, state.opt_state, learning_rate(config, state.step)),
            jax.random.split(key, config.num_epochs),
        )
        obs_stats = N.update(state.obs_stats, rollout.obs) if config.normalize_obs else state.obs_stats
        new_state = PPOState(params=params, opt_state=opt_state, obs_stats=obs_stats, step=state.step + 1)
        metrics = {name: jnp.mean(value) for name, value in aux.items()}
        metrics.update(L.rollout_metrics(advantage, returns, rollout.value, rollout.reward))
        metrics["reward_mean_per_skill"] = _per_skill_mean(rollout.reward, rollout.skill_id, config.num_skills)
        return new_state, metrics

    def act(state: PPOState, obs: jax.Array, skill_id: jax.Array, key: jax.Array):
        """``(action (B,A) raw sample, log_prob (B,), value (B,))``; send ``clip_action(action)`` to the env."""
        x = norm_obs(state.obs_stats, obs)
        mean, log_std = networks.policy_apply(state.params["policy"], x, skill_id)
        action, log_prob = sample_gaussian(mean, log_std, key)
        return action, log_prob, networks.value_apply(state.params["value"], x, skill_id)

    def value(state: PPOState, obs: jax.Array, skill_id: jax.Array) -> jax.Array:
        """``V(obs) (B,)`` with the state's observation statistics."""
        return networks.value_apply(state.params["value"], norm_obs(state.obs_stats, obs), skill_id)

    def deterministic_action(state: PPOState, obs: jax.Array, skill_id: jax.Array) -> jax.Array:
        """``clip_action(mean) (B,A)``: the evaluation action."""
        mean, _ = networks.policy_apply(state.params["policy"], norm_obs(state.obs_stats, obs), skill_id)
        return clip_action(mean)

    return PPO(init=init, update=update, act=act, value=value, deterministic_action=deterministic_action)
