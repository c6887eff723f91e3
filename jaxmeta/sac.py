"""Multi-task Soft Actor-Critic as pure functions: losses, Polyak averaging, `make_sac(...).update`.

Conventions (``B`` batch, ``T`` num_skills, ``E`` number of critics, 2 for `make_networks`):

- Per-skill temperature: ``log_alpha (T,)``; sample ``i`` uses ``alpha[skill_id[i]]`` everywhere.
- Per-sample losses ``l_i`` are reduced with importance weights ``w`` and a 0/1 ``mask``::

      loss = sum_i where(m_i, w_i * l_i, 0) / max(sum_i m_i, 1)

  With ``w = m = 1`` this is the plain batch mean (``weights=None`` / ``mask=None`` mean all ones and
  take the same code path: bit-identical eagerly; under jit the new state and td_error are bit-identical
  too, metric reductions may differ in the last ulp as XLA folds the constant ones). A masked sample contributes exactly zero
  loss and, through ``jnp.where``, exactly zero gradient (PaCo loss mask-out). The normaliser counts
  unmasked samples, not weights, as in PER (weights are already max-normalised by the buffer).
  Per-skill losses ``(T,)`` use the same formula restricted to a skill's samples (0 for a skill with no
  unmasked sample), so ``loss == sum_t per_skill[t] * count[t] / max(sum(count), 1)``.
- Critic: ``l_i = 0.5 * sum_k (Q_k(s,a) - y)^2`` with the soft target
  ``y = reward_scale * r + discount * d * (min_k Q'_k(s', a') - alpha * log pi(a'|s'))``, ``a' ~ pi(s')``.
- ``td_error (B,) = mean_k |Q_k(s,a) - y|`` (non-negative, mean over critics), computed for every sample
  including masked ones, so it can directly refresh PER priorities.
- Actor: ``l_i = alpha * log pi(a|s) - min_k Q_k(s, a)``, ``a ~ pi(s)`` reparameterised.
- Temperature: ``l_i = -log_alpha[skill_i] * (log pi(a|s) + target_entropy)`` (log pi held fixed), so
  alpha decreases when the skill's entropy is above target and increases when it is below.

`update` order: critic step -> actor step (against the *updated* critic) -> per-skill alpha step (using
the log-probs of the actor step, i.e. of the pre-actor-step policy) -> Polyak target update. The
critic target and the actor loss both use the alpha from before this update. Only the temperatures of
skills with at least one unmasked sample in the batch change (Adam momentum would otherwise keep moving
the others).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmeta.networks import Networks

Params = Any
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyper-parameters (static; defaults follow PaCo Table VI / SAC v2)."""

    discount: float = 0.99
    tau: float = 0.005
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    init_alpha: float = 1.0
    target_entropy: float | None = None  # None -> -action_dim
    reward_scale: float = 1.0
    num_skills: int = 1
    learn_alpha: bool = True
    max_grad_norm: float | None = None  # global-norm clip of actor and critic gradients

    def __post_init__(self):
        def finite(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"SACConfig.{name} must be a finite number, got {value!r}")
            return value

        if not 0.0 <= finite("discount") <= 1.0:
            raise ValueError(f"SACConfig.discount must be in [0, 1], got {self.discount!r}")
        if not 0.0 <= finite("tau") <= 1.0:
            raise ValueError(f"SACConfig.tau must be in [0, 1], got {self.tau!r}")
        for name in ("actor_lr", "critic_lr", "alpha_lr", "init_alpha"):
            if finite(name) <= 0.0:
                raise ValueError(f"SACConfig.{name} must be > 0, got {getattr(self, name)!r}")
        finite("reward_scale")
        if self.target_entropy is not None:
            finite("target_entropy")
        if not isinstance(self.num_skills, int) or isinstance(self.num_skills, bool) or self.num_skills < 1:
            raise ValueError(f"SACConfig.num_skills must be a positive int, got {self.num_skills!r}")
        if not isinstance(self.learn_alpha, bool):
            raise ValueError(f"SACConfig.learn_alpha must be a bool, got {self.learn_alpha!r}")
        if self.max_grad_norm is not None and finite("max_grad_norm") <= 0.0:
            raise ValueError(f"SACConfig.max_grad_norm must be > 0 or None, got {self.max_grad_norm!r}")

    def resolved_target_entropy(self, action_dim: int) -> float:
        """``target_entropy``, or ``-action_dim`` when it is None."""
        return float(-action_dim) if self.target_entropy is None else float(self.target_entropy)


@struct.dataclass
class Transition:
    """A replay batch (the contract with `jaxmeta.replay`).

    obs (B,O) f32, action (B,A) f32 in [-1,1], reward (B,) f32, next_obs (B,O) f32,
    discount (B,) f32: the factor of `SACConfig.discount` in the bootstrap: 0 where the episode terminated,
    1 otherwise (time-limit truncation bootstraps); skill_id (B,) int32. An n-step transition of k steps
    (`jaxmeta.nstep`) has reward the discounted k-step sum and discount ``gamma^(k-1)`` (x 0 at a terminal).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    discount: jax.Array
    skill_id: jax.Array


def zero_transition(obs_size: int, action_size: int, batch_shape: tuple[int, ...] = ()) -> Transition:
    """A transition of zeros with leading axes `batch_shape`: the layout replay storage and n-step windows
    are built from."""
    f = lambda *shape, dtype=jnp.float32: jnp.zeros(tuple(batch_shape) + shape, dtype)  # noqa: E731
    return Transition(
        obs=f(obs_size),
        action=f(action_size),
        reward=f(),
        next_obs=f(obs_size),
        discount=f(),
        skill_id=f(dtype=jnp.int32),
    )


@struct.dataclass
class SACState:
    """Full SAC training state (one pytree)."""

    actor_params: Params
    critic_params: Params
    target_critic_params: Params
    log_alpha: jax.Array  # (num_skills,) f32, one temperature per skill
    actor_opt_state: optax.OptState
    critic_opt_state: optax.OptState
    alpha_opt_state: optax.OptState
    step: jax.Array  # () int32, number of updates done


# --------------------------------------------------------------------------------------------------
# helpers


def _assert_batch(batch: Transition) -> int:
    b = batch.reward.shape[0]
    chex.assert_rank([batch.obs, batch.action, batch.next_obs], 2)
    chex.assert_shape([batch.reward, batch.discount, batch.skill_id], (b,))
    chex.assert_equal_shape([batch.obs, batch.next_obs])
    chex.assert_shape(batch.action, (b, None))
    chex.assert_type(batch.skill_id, int)
    return b


def _weights_and_mask(weights: jax.Array | None, mask: jax.Array | None, b: int) -> tuple[jax.Array, jax.Array]:
    """Defaults: all-ones. Returns (weights (B,) f32, mask (B,) bool)."""
    weights = jnp.ones((b,), jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)
    mask = jnp.ones((b,), bool) if mask is None else jnp.asarray(mask) > 0
    chex.assert_shape([weights, mask], (b,))
    return weights, mask


def weighted_mean(
    per_sample: jax.Array, weights: jax.Array, mask: jax.Array, skill_id: jax.Array, num_skills: int
) -> tuple[jax.Array, jax.Array]:
    """``(B,) -> (scalar, per_skill (T,))``: sum(where(m, w*l, 0)) / max(sum(m), 1), overall and per skill."""
    chex.assert_equal_shape([per_sample, weights, mask, skill_id])
    contrib = jnp.where(mask, weights * per_sample, 0.0)
    count = mask.astype(per_sample.dtype)
    total = jnp.sum(contrib) / jnp.maximum(jnp.sum(count), 1.0)
    skill_sum = jax.ops.segment_sum(contrib, skill_id, num_segments=num_skills)
    skill_count = jax.ops.segment_sum(count, skill_id, num_segments=num_skills)
    return total, skill_sum / jnp.maximum(skill_count, 1.0)


def _masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """Unweighted mean of x (B,) over unmasked samples (metrics only)."""
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def polyak_update(target: Params, online: Params, tau: float | jax.Array) -> Params:
    """``target' = (1 - tau) * target + tau * online`` leaf-wise (tau=0 keeps target, tau=1 copies)."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


# --------------------------------------------------------------------------------------------------
# losses


def critic_loss(
    critic_params: Params,
    target_critic_params: Params,
    actor_params: Params,
    log_alpha: jax.Array,
    batch: Transition,
    key: jax.Array,
    weights: jax.Array | None = None,
    mask: jax.Array | None = None,
    *,
    networks: Networks,
    config: SACConfig,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Soft Bellman loss of the critics. Returns ``(loss (), aux)``.

    aux: ``td_error (B,)`` = mean_k |Q_k - y|, ``per_sample (B,)``, ``per_skill (T,)``, ``q_mean``,
    ``target_mean`` (scalars, over unmasked samples). Gradients flow into ``critic_params`` only.
    """
    b = _assert_batch(batch)
    weights, mask = _weights_and_mask(weights, mask, b)
    chex.assert_shape(log_alpha, (config.num_skills,))

    next_action, next_log_prob = networks.sample_action(actor_params, batch.next_obs, batch.skill_id, key)
    next_q = networks.critic_apply(target_critic_params, batch.next_obs, next_action, batch.skill_id)
    chex.assert_shape(next_q, (None, b))
    alpha = jnp.exp(log_alpha)[batch.skill_id]
    next_v = jnp.min(next_q, axis=0) - alpha * next_log_prob
    target = config.reward_scale * batch.reward + config.discount * batch.discount * next_v
    target = jax.lax.stop_gradient(target)

    q = networks.critic_apply(critic_params, batch.obs, batch.action, batch.skill_id)
    chex.assert_shape(q, (None, b))
    err = q - target[None]
    per_sample = 0.5 * jnp.sum(err**2, axis=0)
    loss, per_skill = weighted_mean(per_sample, weights, mask, batch.skill_id, config.num_skills)
    aux = {
        "td_error": jax.lax.stop_gradient(jnp.mean(jnp.abs(err), axis=0)),
        "per_sample": per_sample,
        "per_skill": per_skill,
        "q_mean": _masked_mean(jnp.mean(q, axis=0), mask),
        "target_mean": _masked_mean(target, mask),
    }
    return loss, aux


def actor_loss(
    actor_params: Params,
    critic_params: Params,
    log_alpha: jax.Array,
    batch: Transition,
    key: jax.Array,
    weights: jax.Array | None = None,
    mask: jax.Array | None = None,
    *,
    networks: Networks,
    config: SACConfig,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Policy loss ``alpha * log pi(a|s) - min_k Q_k(s,a)``. Returns ``(loss (), aux)``.

    aux: ``log_prob (B,)`` (stop-gradient; feeds `alpha_loss`), ``per_sample (B,)``, ``per_skill (T,)``,
    ``entropy`` (scalar, -mean log_prob over unmasked samples). Alpha is held fixed; gradients flow into
    ``actor_params`` only when differentiating w.r.t. the first argument.
    """
    b = _assert_batch(batch)
    weights, mask = _weights_and_mask(weights, mask, b)
    chex.assert_shape(log_alpha, (config.num_skills,))

    action, log_prob = networks.sample_action(actor_params, batch.obs, batch.skill_id, key)
    q = networks.critic_apply(critic_params, batch.obs, action, batch.skill_id)
    chex.assert_shape(q, (None, b))
    alpha = jax.lax.stop_gradient(jnp.exp(log_alpha))[batch.skill_id]
    per_sample = alpha * log_prob - jnp.min(q, axis=0)
    loss, per_skill = weighted_mean(per_sample, weights, mask, batch.skill_id, config.num_skills)
    log_prob = jax.lax.stop_gradient(log_prob)
    aux = {
        "log_prob": log_prob,
        "per_sample": per_sample,
        "per_skill": per_skill,
        "entropy": -_masked_mean(log_prob, mask),
    }
    return loss, aux


def alpha_loss(
    log_alpha: jax.Array,
    log_prob: jax.Array,
    skill_id: jax.Array,
    weights: jax.Array | None = None,
    mask: jax.Array | None = None,
    *,
    target_entropy: float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Per-skill temperature loss ``-log_alpha[skill] * (log_prob + target_entropy)``.

    ``log_alpha (T,)``, ``log_prob (B,)`` (treated as constant), ``skill_id (B,)``. Returns
    ``(loss (), aux)`` with ``per_skill (T,)`` losses and ``entropy_per_skill (T,)`` (0 for absent skills).
    """
    (b,) = log_prob.shape
    num_skills = log_alpha.shape[0]
    chex.assert_rank(log_alpha, 1)
    chex.assert_shape(skill_id, (b,))
    weights, mask = _weights_and_mask(weights, mask, b)
    log_prob = jax.lax.stop_gradient(log_prob)
    per_sample = -log_alpha[skill_id] * (log_prob + target_entropy)
    loss, per_skill = weighted_mean(per_sample, weights, mask, skill_id, num_skills)
    _, neg_entropy = weighted_mean(log_prob, jnp.ones_like(weights), mask, skill_id, num_skills)
    return loss, {"per_skill": per_skill, "entropy_per_skill": -neg_entropy}


# --------------------------------------------------------------------------------------------------
# the algorithm


class SAC(NamedTuple):
    """Pure SAC functions built by `make_sac`.

    init(key) -> SACState
    update(state, batch, key, weights=None, mask=None) -> (state, metrics, td_error (B,))
    act(state_or_actor_params, obs (B,O), skill_id (B,), key, deterministic=False) -> action (B,A)
    """

    init: Callable[[jax.Array], SACState]
    update: Callable[..., tuple[SACState, Metrics, jax.Array]]
    act: Callable[..., jax.Array]


def make_optimizer(lr: float, max_grad_norm: float | None) -> optax.GradientTransformation:
    """Adam at `lr`, after a global-norm clip when `max_grad_norm` (the actor's and critic's optimiser)."""
    adam = optax.adam(lr)
    return adam if max_grad_norm is None else optax.chain(optax.clip_by_global_norm(max_grad_norm), adam)


def make_sac(config: SACConfig, networks: Networks) -> SAC:
    """SAC over any `Networks` family (see `jaxmeta.networks` for the protocol)."""
    actor_opt = make_optimizer(config.actor_lr, config.max_grad_norm)
    critic_opt = make_optimizer(config.critic_lr, config.max_grad_norm)
    alpha_opt = optax.adam(config.alpha_lr)
    num_skills = config.num_skills

    def init(key: jax.Array) -> SACState:
        actor_key, critic_key = jax.random.split(key)
        actor_params = networks.actor_init(actor_key)
        critic_params = networks.critic_init(critic_key)
        log_alpha = jnp.full((num_skills,), math.log(config.init_alpha), jnp.float32)
        return SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=jax.tree.map(jnp.array, critic_params),
            log_alpha=log_alpha,
            actor_opt_state=actor_opt.init(actor_params),
            critic_opt_state=critic_opt.init(critic_params),
            alpha_opt_state=alpha_opt.init(log_alpha),
            step=jnp.zeros((), jnp.int32),
        )

    def update(
        state: SACState,
        batch: Transition,
        key: jax.Array,
        weights: jax.Array | None = None,
        mask: jax.Array | None = None,
    ) -> tuple[SACState, Metrics, jax.Array]:
        """One SAC step (critic, actor, alpha, Polyak). Returns (state', metrics, td_error (B,)).

        metrics: scalars, plus ``*_per_skill`` entries of shape (num_skills,).
        """
        b = _assert_batch(batch)
        weights, mask = _weights_and_mask(weights, mask, b)
        target_entropy = config.resolved_target_entropy(batch.action.shape[-1])
        critic_key, actor_key = jax.random.split(key)

        # critic
        (c_loss, c_aux), c_grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic_params,
            state.target_critic_params,
            state.actor_params,
            state.log_alpha,
            batch,
            critic_key,
            weights,
            mask,
            networks=networks,
            config=config,
        )
        c_updates, critic_opt_state = critic_opt.update(c_grads, state.critic_opt_state, state.critic_params)
        critic_params = optax.apply_updates(state.critic_params, c_updates)

        # actor (against the updated critic)
        (a_loss, a_aux), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(
            state.actor_params,
            critic_params,
            state.log_alpha,
            batch,
            actor_key,
            weights,
            mask,
            networks=networks,
            config=config,
        )
        a_updates, actor_opt_state = actor_opt.update(a_grads, state.actor_opt_state, state.actor_params)
        actor_params = optax.apply_updates(state.actor_params, a_updates)

        # per-skill temperature
        (al_loss, al_aux), al_grads = jax.value_and_grad(alpha_loss, has_aux=True)(
            state.log_alpha, a_aux["log_prob"], batch.skill_id, weights, mask, target_entropy=target_entropy
        )
        if config.learn_alpha:
            present = jax.ops.segment_sum(mask.astype(jnp.float32), batch.skill_id, num_segments=num_skills) > 0
            al_updates, alpha_opt_state = alpha_opt.update(al_grads, state.alpha_opt_state, state.log_alpha)
            log_alpha = state.log_alpha + jnp.where(present, al_updates, 0.0)
        else:
            log_alpha, alpha_opt_state = state.log_alpha, state.alpha_opt_state

        target_critic_params = polyak_update(state.target_critic_params, critic_params, config.tau)

        new_state = SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=target_critic_params,
            log_alpha=log_alpha,
            actor_opt_state=actor_opt_state,
            critic_opt_state=critic_opt_state,
            alpha_opt_state=alpha_opt_state,
            step=state.step + 1,
        )
        td_error = c_aux["td_error"]
        alpha_used = jnp.exp(state.log_alpha)
        metrics = {
            "critic_loss": c_loss,
            "actor_loss": a_loss,
            "alpha_loss": al_loss,
            "alpha": jnp.mean(alpha_used),
            "entropy": a_aux["entropy"],
            "q_mean": c_aux["q_mean"],
            "target_q_mean": c_aux["target_mean"],
            "td_error": _masked_mean(td_error, mask),
            "critic_grad_norm": optax.global_norm(c_grads),
            "actor_grad_norm": optax.global_norm(a_grads),
            "critic_loss_per_skill": c_aux["per_skill"],
            "actor_loss_per_skill": a_aux["per_skill"],
            "alpha_per_skill": alpha_used,
            "entropy_per_skill": al_aux["entropy_per_skill"],
        }
        return new_state, metrics, td_error

    def act(
        state_or_actor_params: SACState | Params,
        obs: jax.Array,
        skill_id: jax.Array,
        key: jax.Array | None = None,
        deterministic: bool = False,
    ) -> jax.Array:
        """Action (B,A) in (-1,1): tanh(mean) if deterministic else a tanh-Gaussian sample (needs key).

        ``deterministic`` is a Python bool: jit with ``static_argnames="deterministic"``.
        """
        params = state_or_actor_params
        if isinstance(params, SACState):
            params = params.actor_params
        if deterministic:
            return networks.deterministic_action(params, obs, skill_id)
        if key is None:
            raise ValueError("SAC.act: a PRNG key is required when deterministic=False")
        return networks.sample_action(params, obs, skill_id, key)[0]

    return SAC(init=init, update=update, act=act)
