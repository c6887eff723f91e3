"""PPO losses as pure functions of arrays: GAE, clipped surrogate, value loss, entropy, diagnostics.

Shapes: rollouts are time-major, ``T`` steps x ``N`` parallel envs; per-sample losses take flat ``(B,)``
arrays (a minibatch). Every function checks its shapes with chex at the top.

References: Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (PPO), Eq. 7 (clipped
surrogate) and Eq. 9 (combined objective); Schulman et al. 2016, "High-Dimensional Continuous Control
Using Generalized Advantage Estimation" (GAE), Eq. 16.

Episode boundaries (`gae_advantages`). Step ``t`` of env ``n`` ends its episode when
``terminated[t, n]`` (a true terminal state: the future is worth 0) or ``truncated[t, n]`` (a time
limit, the case for every Meta-World episode at ``max_path_length``: the future is worth the value of
the true final observation, ``final_values[t, n]``, not the value of the auto-reset observation
``obs[t + 1, n]``, which starts the next episode). The value that step ``t`` bootstraps from is::

    next_value[t] = 0                      if terminated[t]            (terminated wins over truncated)
                  = final_values[t]        elif truncated[t]
                  = values[t + 1]          elif t < T - 1
                  = bootstrap_value        else (value of the obs after the last rollout step)

and the advantage recursion is cut at every boundary, so no credit flows between episodes.
``final_values`` is read only where ``truncated`` (and not ``terminated``); anything else there (zeros,
NaN) is ignored.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

__all__ = [
    "approx_kl",
    "clip_fraction",
    "clipped_surrogate_loss",
    "explained_variance",
    "gae_advantages",
    "normalize_advantages",
    "ppo_total_loss",
    "rollout_metrics",
    "value_loss",
]


def gae_advantages(
    rewards: jax.Array,
    values: jax.Array,
    bootstrap_value: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    final_values: jax.Array,
    discount: float | jax.Array,
    gae_lambda: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimates and value targets. Returns ``(advantages (T,N), returns (T,N))``.

    Args:
      rewards, values: ``(T, N)`` f32; ``values[t] = V(obs[t])``.
      bootstrap_value: ``(N,)``, ``V`` of the observation after the last step ``T - 1``.
      terminated, truncated: ``(T, N)`` bool or 0/1, episode boundaries (module docstring).
      final_values: ``(T, N)``, ``V`` of the true final observation where ``truncated``.
      discount, gae_lambda: scalars ``gamma``, ``lambda`` in [0, 1].

    GAE Eq. 16, ``A_t = sum_l (gamma lambda)^l delta_{t+l}`` with the TD residual
    ``delta_t = r_t + gamma next_value[t] - V(s_t)``, is computed backwards (one `lax.scan`) as::

        A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},   A_T = 0,  done = terminated | truncated

    ``returns = advantages + values`` (the TD(lambda) value target). ``lambda = 0`` gives the one-step TD
    error ``delta_t``; ``lambda = 1`` gives the Monte-Carlo return to the episode end (bootstrapped with
    ``final_values`` at a truncation, ``bootstrap_value`` at the rollout end) minus ``values``.
    Inputs are treated as constants (`lax.stop_gradient`).
    """
    chex.assert_rank(rewards, 2)
    t_len, n = rewards.shape
    chex.assert_shape([values, terminated, truncated, final_values], (t_len, n))
    chex.assert_shape(bootstrap_value, (n,))
    rewards, values, bootstrap_value, final_values = jax.lax.stop_gradient(
        (rewards, values, bootstrap_value, final_values)
    )
    dtype = rewards.dtype
    terminated = jnp.asarray(terminated) > 0
    truncated = jnp.asarray(truncated) > 0

    following = jnp.concatenate([values[1:], bootstrap_value[None].astype(values.dtype)], axis=0)
    next_value = jnp.where(terminated, 0.0, jnp.where(truncated, final_values, following))
    delta = rewards + discount * next_value - values
    carry_on = 1.0 - (terminated | truncated).astype(dtype)

    def step(next_adv, inputs):
        delta_t, carry_t = inputs
        adv = delta_t + discount * gae_lambda * carry_t * next_adv
        return adv, adv

    _, advantages = jax.lax.scan(step, jnp.zeros((n,), dtype), (delta, carry_on), reverse=True)
    return advantages, advantages + values


def normalize_advantages(advantages: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``(A - mean(A)) / (std(A) + eps)`` over all elements (PPO's per-minibatch normalisation)."""
    return (advantages - jnp.mean(advantages)) / (jnp.std(advantages) + eps)


def clipped_surrogate_loss(
    log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array, clip_eps: float | jax.Array
) -> jax.Array:
    """Negated PPO clipped surrogate (PPO Eq. 7), ``(B,) x3 -> ()``, to be minimised::

        r = exp(log_prob - old_log_prob)
        loss = -mean(min(r * A, clip(r, 1 - eps, 1 + eps) * A))

    Gradients flow through ``log_prob`` only (``old_log_prob`` and ``advantages`` are constants). The
    gradient is exactly zero for samples with ``A > 0, r > 1 + eps`` or ``A < 0, r < 1 - eps`` (the
    objective no longer rewards moving further); at ``r = 1`` value and gradient equal those of the
    unclipped surrogate ``-mean(r * A)``.
    """
    chex.assert_rank(log_prob, 1)
    chex.assert_equal_shape([log_prob, old_log_prob, advantages])
    old_log_prob, advantages = jax.lax.stop_gradient((old_log_prob, advantages))
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    return -jnp.mean(jnp.minimum(unclipped, clipped))


def value_loss(
    values: jax.Array, old_values: jax.Array, returns: jax.Array, clip_eps: float | None = None
) -> jax.Array:
    """Squared-error value loss ``L^VF`` of PPO Eq. 9, ``(B,) x3 -> ()``.

    ``clip_eps=None``: ``0.5 * mean((V - R)^2)``. Otherwise the pessimistic clipped form of the PPO
    reference implementation (baselines ppo2): ``V_c = V_old + clip(V - V_old, -eps, eps)``,
    ``0.5 * mean(max((V - R)^2, (V_c - R)^2))``. ``old_values`` and ``returns`` are constants.
    """
    chex.assert_rank(values, 1)
    chex.assert_equal_shape([values, old_values, returns])
    old_values, returns = jax.lax.stop_gradient((old_values, returns))
    err = (values - returns) ** 2
    if clip_eps is not None:
        clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
        err = jnp.maximum(err, (clipped - returns) ** 2)
    return 0.5 * jnp.mean(err)


def ppo_total_loss(
    policy_loss: jax.Array,
    value_loss_: jax.Array,
    entropy: jax.Array,
    value_coef: float,
    entropy_coef: float,
) -> jax.Array:
    """Negated PPO Eq. 9, ``-(L^CLIP - c1 L^VF + c2 S)``: ``policy_loss + c1 * value_loss - c2 * mean(S)``.

    ``policy_loss`` is `clipped_surrogate_loss` (already negated), ``value_loss_`` `value_loss`,
    ``entropy (B,)`` the per-sample policy entropy (the entropy bonus ``S``).
    """
    chex.assert_rank([policy_loss, value_loss_], 0)
    chex.assert_rank(entropy, 1)
    return policy_loss + value_coef * value_loss_ - entropy_coef * jnp.mean(entropy)


def approx_kl(log_prob: jax.Array, old_log_prob: jax.Array) -> jax.Array:
    """Estimate of ``KL(pi_old || pi)`` from samples of ``pi_old``, ``(B,) x2 -> ()`` (a metric).

    The non-negative, unbiased "k3" estimator ``mean((r - 1) - log r)``, ``r = pi / pi_old``.
    """
    chex.assert_rank(log_prob, 1)
    chex.assert_equal_shape([log_prob, old_log_prob])
    log_ratio = jax.lax.stop_gradient(log_prob - old_log_prob)
    return jnp.mean(jnp.expm1(log_ratio) - log_ratio)


def clip_fraction(log_prob: jax.Array, old_log_prob: jax.Array, clip_eps: float | jax.Array) -> jax.Array:
    """Fraction of samples whose ratio lies outside ``[1 - eps, 1 + eps]``, ``(B,) x2 -> ()`` (a metric)."""
    chex.assert_rank(log_prob, 1)
    chex.assert_equal_shape([log_prob, old_log_prob])
    ratio = jnp.exp(jax.lax.stop_gradient(log_prob - old_log_prob))
    return jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))


def rollout_metrics(advantages: jax.Array, returns: jax.Array, values: jax.Array, rewards: jax.Array) -> dict:
    """Diagnostics of one rollout ``(T, N)`` each: advantage mean / std, return and value means, the
    stored values' explained variance of the returns, mean reward."""
    chex.assert_equal_shape([advantages, returns, values, rewards])
    return {
        "advantage_mean": jnp.mean(advantages),
        "advantage_std": jnp.std(advantages),
        "return_mean": jnp.mean(returns),
        "value_mean": jnp.mean(values),
        "explained_variance": explained_variance(values, returns),
        "reward_mean": jnp.mean(rewards),
    }


def explained_variance(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """``1 - Var(targets - predictions) / Var(targets)`` over all elements (a metric; 0 if Var = 0)."""
    chex.assert_equal_shape([predictions, targets])
    var = jnp.var(targets)
    return jnp.where(var > 0, 1.0 - jnp.var(targets - predictions) / jnp.where(var > 0, var, 1.0), 0.0)
