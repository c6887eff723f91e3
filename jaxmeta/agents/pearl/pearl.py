"""PEARL as pure functions (Rakelly et al. 2019, Algorithm 1): `make_pearl(sac_config, options, networks,
encoder) -> PEARL`.

Shapes: ``M`` tasks in a meta-batch, ``B`` transitions per task, ``C`` context transitions per task,
``O`` obs_dim, ``A`` action_dim, ``L`` latent_dim, ``D`` the context feature size (`encoder`).

- The actor and critic are SAC's (`jaxmeta.sac` losses, `jaxmeta.networks`) on the augmented observation
  ``[obs, z]`` (``networks`` built for ``O + L`` and one skill: PEARL is not told the task).
- `update(state, batch, context, key, context_mask=None)`: ``batch`` a `Transition` with leaves
  ``(M, B, ...)``, ``context (M, C, D)``. Per task ``q(z | c) = `encoder.posterior` ``, one sample
  ``z = mu + sqrt(var) * eps`` (reparameterised). The critic loss (`jaxmeta.sac.critic_loss` on
  ``[obs, z]`` and ``[next_obs, z]``) plus ``kl_weight * mean_m KL(q_m || N(0, I))`` (Eq. 4) is minimised
  in the critic *and* the encoder parameters (the encoder learns from the Bellman error, Sec. 4.2); then
  the actor (`jaxmeta.sac.actor_loss`, z held fixed: no actor gradient reaches the encoder), the
  temperature and the Polyak-averaged target critic, as in SAC.
- `infer(state, context, mask, key) -> (z (L,), mu, var)`: posterior sampling at meta-test (Sec. 4.3);
  with an empty mask z is drawn from the prior. `act(state, obs (N,O), z (N,L), key, deterministic)`.
- metrics: SAC's scalars plus ``kl``, ``z_var_mean`` (mean posterior variance), ``encoder_grad_norm``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmeta.agents.pearl.encoder import Encoder, kl_to_prior
from jaxmeta.agents.pearl.options import PEARLOptions
from jaxmeta.networks import Networks
from jaxmeta.sac import (
    SACConfig,
    SACState,
    Transition,
    actor_loss,
    alpha_loss,
    critic_loss,
    make_optimizer,
    make_sac,
    polyak_update,
)

__all__ = ["PEARL", "PEARLState", "make_pearl"]

Params = Any
Metrics = dict[str, jax.Array]


@struct.dataclass
class PEARLState:
    sac: SACState  # actor / critic / target / temperature on [obs, z], their optimiser states, step
    encoder_params: Params
    encoder_opt_state: optax.OptState


class PEARL(NamedTuple):
    init: Callable[[jax.Array], PEARLState]
    update: Callable[..., tuple[PEARLState, Metrics]]
    infer: Callable[..., tuple[jax.Array, jax.Array, jax.Array]]
    act: Callable[..., jax.Array]


def make_pearl(config: SACConfig, options: PEARLOptions, networks: Networks, encoder: Encoder) -> PEARL:
    if config.num_skills != 1:
        raise ValueError(f"PEARL's networks take no skill id: SACConfig.num_skills must be 1, got {config.num_skills}")
    if encoder.latent_dim != options.latent_dim:
        raise ValueError(f"encoder latent_dim {encoder.latent_dim} != PEARLOptions.latent_dim {options.latent_dim}")
    sac = make_sac(config, networks)  # init (and the optimisers' structure) of the actor / critic part
    actor_opt = make_optimizer(config.actor_lr, config.max_grad_norm)
    critic_opt = make_optimizer(config.critic_lr, config.max_grad_norm)
    alpha_opt = optax.adam(config.alpha_lr)
    encoder_opt = optax.adam(options.encoder_lr)
    L = options.latent_dim

    def init(key: jax.Array) -> PEARLState:
        k_sac, k_enc = jax.random.split(key)
        enc = encoder.init(k_enc)
        return PEARLState(sac=sac.init(k_sac), encoder_params=enc, encoder_opt_state=encoder_opt.init(enc))

    def posteriors(enc_params, context, mask):
        return jax.vmap(encoder.posterior, in_axes=(None, 0, 0))(enc_params, context, mask)

    def augmented(batch: Transition, z: jax.Array) -> Transition:
        """(M, B, ...) batch and z (M, L) -> a flat (M * B) batch on [obs, z], skill id 0."""
        M, B = batch.reward.shape
        zb = jnp.broadcast_to(z[:, None, :], (M, B, L))
        flat = lambda x: x.reshape((M * B,) + x.shape[2:])  # noqa: E731
        return Transition(
            obs=flat(jnp.concatenate([batch.obs, zb], axis=-1)),
            action=flat(batch.action),
            reward=flat(batch.reward),
            next_obs=flat(jnp.concatenate([batch.next_obs, zb], axis=-1)),
            discount=flat(batch.discount),
            skill_id=jnp.zeros((M * B,), jnp.int32),
        )

    def update(
        state: PEARLState, batch: Transition, context: jax.Array, key: jax.Array, context_mask: jax.Array | None = None
    ) -> tuple[PEARLState, Metrics]:
        chex.assert_rank(batch.reward, 2)
        M = batch.reward.shape[0]
        chex.assert_shape(context, (M, None, encoder.feature_dim))
        mask = jnp.ones(context.shape[:2], bool) if context_mask is None else context_mask
        k_z, k_c, k_a = jax.random.split(key, 3)
        s = state.sac
        eps = jax.random.normal(k_z, (M, L))

        def critic_objective(critic_params, enc_params):
            mu, var = posteriors(enc_params, context, mask)
            z = mu + jnp.sqrt(var) * eps
            loss, aux = critic_loss(
                critic_params,
                s.target_critic_params,
                s.actor_params,
                s.log_alpha,
                augmented(batch, z),
                k_c,
                networks=networks,
                config=config,
            )
            kl = jnp.mean(kl_to_prior(mu, var))
            return loss + options.kl_weight * kl, (loss, aux, kl, z, var)

        (_, (c_loss, c_aux, kl, z, var)), (c_grads, e_grads) = jax.value_and_grad(
            critic_objective, argnums=(0, 1), has_aux=True
        )(s.critic_params, state.encoder_params)
        c_upd, critic_opt_state = critic_opt.update(c_grads, s.critic_opt_state, s.critic_params)
        critic_params = optax.apply_updates(s.critic_params, c_upd)
        e_upd, encoder_opt_state = encoder_opt.update(e_grads, state.encoder_opt_state, state.encoder_params)
        encoder_params = optax.apply_updates(state.encoder_params, e_upd)

        fixed = augmented(batch, jax.lax.stop_gradient(z))  # the actor does not train the encoder
        (a_loss, a_aux), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(
            s.actor_params, critic_params, s.log_alpha, fixed, k_a, networks=networks, config=config
        )
        a_upd, actor_opt_state = actor_opt.update(a_grads, s.actor_opt_state, s.actor_params)
        actor_params = optax.apply_updates(s.actor_params, a_upd)
        target_entropy = config.resolved_target_entropy(batch.action.shape[-1])
        (al_loss, _), al_grads = jax.value_and_grad(alpha_loss, has_aux=True)(
            s.log_alpha, a_aux["log_prob"], fixed.skill_id, target_entropy=target_entropy
        )
        if config.learn_alpha:
            al_upd, alpha_opt_state = alpha_opt.update(al_grads, s.alpha_opt_state, s.log_alpha)
            log_alpha = s.log_alpha + al_upd
        else:
            log_alpha, alpha_opt_state = s.log_alpha, s.alpha_opt_state
        new_sac = SACState(
            actor_params=actor_params,
            critic_params=critic_params,
            target_critic_params=polyak_update(s.target_critic_params, critic_params, config.tau),
            log_alpha=log_alpha,
            actor_opt_state=actor_opt_state,
            critic_opt_state=critic_opt_state,
            alpha_opt_state=alpha_opt_state,
            step=s.step + 1,
        )
        metrics = {
            "critic_loss": c_loss,
            "actor_loss": a_loss,
            "alpha_loss": al_loss,
            "alpha": jnp.exp(s.log_alpha[0]),
            "entropy": a_aux["entropy"],
            "q_mean": c_aux["q_mean"],
            "target_q_mean": c_aux["target_mean"],
            "kl": kl,
            "z_var_mean": jnp.mean(var),
            "critic_grad_norm": optax.global_norm(c_grads),
            "actor_grad_norm": optax.global_norm(a_grads),
            "encoder_grad_norm": optax.global_norm(e_grads),
        }
        new = PEARLState(sac=new_sac, encoder_params=encoder_params, encoder_opt_state=encoder_opt_state)
        return new, metrics

    def infer(state: PEARLState, context: jax.Array, mask: jax.Array, key: jax.Array):
        """``context (C, D), mask (C,) -> (z (L,), mu (L,), var (L,))``: one posterior sample."""
        mu, var = encoder.posterior(state.encoder_params, context, mask)
        return mu + jnp.sqrt(var) * jax.random.normal(key, mu.shape), mu, var

    def act(state: PEARLState, obs: jax.Array, z: jax.Array, key: jax.Array | None = None, deterministic: bool = False):
        x = jnp.concatenate([obs, z], axis=-1)
        sid = jnp.zeros((obs.shape[0],), jnp.int32)
        if deterministic:
            return networks.deterministic_action(state.sac.actor_params, x, sid)
        return networks.sample_action(state.sac.actor_params, x, sid, key)[0]

    return PEARL(init=init, update=update, infer=infer, act=act)
