"""PaCo-SAC (paper 002 Algorithm 1, policy training): `jaxmeta.sac` + loss mask-out + w-reset + shared w.

`make_paco_sac(sac_config, cfg) -> PaCoSAC` with one pure ``update(state, batch, key, weights=None,
mask=None) -> (state', metrics, td_error (B,))`` over a `PaCoState` (the `jaxmeta.sac.SACState` plus the
`ResetCounters`). Needed for ``share_w=True``, mask-out and reset; plain ``sac.make_sac(sac_config,
make_paco_networks(cfg))`` trains PaCo networks with two independent w tables and no mask-out / reset.

Per update (the pieces are the pure functions of `jaxmeta.agents.paco.reset`):

1. Per-skill loss of the batch (`extreme_skill_loss`: ``sum_k (Q_k - y)^2`` averaged over the task's
   samples, pre-update params) -> ``valid (T,)`` (`loss_mask`: finite and ``<= threshold``, 3e3 by
   default, Table VII). The official code thresholds the total per-sample loss (actor + critic + alpha),
   but ALF's actor-loss *value* is ``0.5|dQ/da|^2 + alpha log pi`` while sac.py's is ``alpha log pi -
   Q``, whose ``-Q`` would hide an explosion, so the threshold sees the critic term only.
   ``mask_timing="exact"`` (default) reproduces the official same-update masking with one extra forward
   pass of the critic loss; ``"lagged"`` skips it and lets an exploding batch through once before the reset.
2. `jaxmeta.sac` update with the samples of invalid tasks masked out of every loss.
3. ``share_w``: `sync_shared_w` (``w <- w + (w_actor' - w) + (w_critic' - w)``, written to actor,
   critic and target critic); ``share_w=False``: the target critic's w is Polyak-averaged like every
   other critic parameter.
4. ``reset`` (official ``reset_task_while_extreme``): invalid tasks' w re-drawn after the update,
   Eqn. (3) (`reset_params_w`; same beta for actor and critic, the target gets the critic's new rows).
5. Counters; metrics add ``paco_num_masked``, ``paco_total_resets``, ``paco_extreme_loss_per_skill (T,)``,
   ``paco_valid_per_skill (T,)``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxmeta.agents.paco.networks import PaCoConfig, make_paco_networks
from jaxmeta.agents.paco.reset import (
    DEFAULT_LOSS_THRESHOLD,
    MASK_TIMINGS,
    RESET_METHODS,
    ResetCounters,
    get_w,
    loss_mask,
    reset_params_w,
    sample_mask_from_tasks,
    set_w,
    sync_shared_w,
    update_counters,
)

__all__ = ["PaCoSAC", "PaCoState", "extreme_skill_loss", "make_paco_sac"]


@struct.dataclass
class PaCoState:
    """`sac.SACState` plus the mask-out / reset counters."""

    sac: Any
    counters: ResetCounters


class PaCoSAC(NamedTuple):
    """init(key) -> PaCoState; update(state, batch, key, weights=None, mask=None) -> (state', metrics,
    td_error (B,)); act as `sac.SAC.act` (accepts a PaCoState too); sac: the underlying `sac.SAC`."""

    init: Callable
    update: Callable
    act: Callable
    sac: Any


def extreme_skill_loss(critic_per_skill: jax.Array) -> jax.Array:
    """Per-skill loss compared with the threshold: ``sum_k (Q_k - y)^2`` averaged over the task's samples
    (``2 x`` sac's ``0.5 sum_k`` critic loss, i.e. ALF's unhalved squared TD loss summed over critics).

    The official code thresholds actor + critic + alpha loss, but ALF's actor-loss *value* is
    ``0.5 |dQ/da|^2 + alpha log pi`` (not sac.py's ``alpha log pi - Q``, whose ``-Q`` of order -1e3 would
    hide explosions), so the critic term is what the threshold sees when a task's loss explodes.
    """
    return 2.0 * critic_per_skill


def make_paco_sac(
    sac_config,
    cfg: PaCoConfig,
    *,
    mask_out: bool = True,
    reset: bool = True,
    threshold: float = DEFAULT_LOSS_THRESHOLD,
    reset_method: str = "dirichlet",
    mask_timing: str = "exact",
) -> PaCoSAC:
    """PaCo-SAC (Algorithm 1's policy-training loop) on top of `sac.make_sac` with PaCo networks.

    Per update: (1) ``mask_timing="exact"``: per-skill losses of this batch with the pre-update params (one
    extra forward pass of `sac.critic_loss`, same key as the update) -> ``valid``; samples of invalid tasks
    are masked out of every loss of this update (official). ``"lagged"``: no extra pass; the update runs
    unmasked and ``valid`` is read from its own per-skill critic losses (pre-update params, same batch), so an
    exploding task gets one unmasked step before its w is reset. (2) `sac.update` with the mask.
    (3) ``share_w``: `sync_shared_w`. (4) ``reset``: invalid tasks' w re-drawn by `reset_w` in actor,
    critic and target critic (same beta; the target gets the critic's new rows). (5) counters.
    Metrics add ``paco_num_masked``, ``paco_total_resets``, ``paco_extreme_loss_per_skill (T,)``,
    ``paco_valid_per_skill (T,)``.
    """
    from jaxmeta import sac as _sac

    if mask_timing not in MASK_TIMINGS:
        raise ValueError(f"mask_timing must be one of {MASK_TIMINGS}, got {mask_timing!r}")
    if reset_method not in RESET_METHODS:
        raise ValueError(f"reset_method must be one of {RESET_METHODS}, got {reset_method!r}")
    if not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    if sac_config.num_skills != cfg.num_skills:
        raise ValueError(f"SACConfig.num_skills ({sac_config.num_skills}) != PaCoConfig.num_skills ({cfg.num_skills})")
    networks = make_paco_networks(cfg)
    algo = _sac.make_sac(sac_config, networks)
    num_skills = cfg.num_skills

    def init(key: jax.Array) -> PaCoState:
        state = algo.init(key)
        if cfg.share_w:  # one table: the critic's, copied into actor and target critic
            w = get_w(state.critic_params)
            state = state.replace(
                actor_params=set_w(state.actor_params, w),
                target_critic_params=set_w(state.target_critic_params, w),
            )
        return PaCoState(sac=state, counters=ResetCounters.zeros(num_skills))

    def update(state: PaCoState, batch, key: jax.Array, weights=None, mask=None):
        s = state.sac
        update_key, reset_key = jax.random.split(key)
        b = batch.reward.shape[0]
        user_mask = jnp.ones((b,), jnp.float32) if mask is None else (jnp.asarray(mask) > 0).astype(jnp.float32)

        if mask_out and mask_timing == "exact":
            critic_key, _ = jax.random.split(update_key)  # the key sac.update gives its critic loss
            _, c_aux = _sac.critic_loss(
                s.critic_params,
                s.target_critic_params,
                s.actor_params,
                s.log_alpha,
                batch,
                critic_key,
                None,
                user_mask,
                networks=networks,
                config=sac_config,
            )
            extreme = jax.lax.stop_gradient(extreme_skill_loss(c_aux["per_skill"]))
            valid = loss_mask(extreme, threshold)
            use_mask = user_mask * sample_mask_from_tasks(valid, batch.skill_id)
        else:
            use_mask = user_mask

        w_before = get_w(s.critic_params)
        new, metrics, td_error = algo.update(s, batch, update_key, weights, use_mask)

        if not mask_out:
            extreme = extreme_skill_loss(metrics["critic_loss_per_skill"])
            valid = jnp.ones((num_skills,), bool)
        elif mask_timing == "lagged":
            extreme = extreme_skill_loss(metrics["critic_loss_per_skill"])
            valid = loss_mask(extreme, threshold)

        actor_p, critic_p, target_p = new.actor_params, new.critic_params, new.target_critic_params
        if cfg.share_w:
            actor_p, critic_p, target_p = sync_shared_w(w_before, actor_p, critic_p, target_p)
        if reset and mask_out:
            actor_p, critic_p = reset_params_w([actor_p, critic_p], valid, reset_key, reset_method)
            target_p = set_w(target_p, jnp.where(valid[:, None], get_w(target_p), get_w(critic_p)))
        new = new.replace(actor_params=actor_p, critic_params=critic_p, target_critic_params=target_p)

        counters = update_counters(state.counters, valid, reset and mask_out)
        metrics = dict(metrics)
        metrics["paco_num_masked"] = counters.num_masked
        metrics["paco_total_resets"] = counters.total_resets
        metrics["paco_extreme_loss_per_skill"] = extreme
        metrics["paco_valid_per_skill"] = valid.astype(jnp.float32)
        return PaCoState(sac=new, counters=counters), metrics, td_error

    def act(state_or_params, obs, skill_id, key=None, deterministic=False):
        if isinstance(state_or_params, PaCoState):
            state_or_params = state_or_params.sac
        return algo.act(state_or_params, obs, skill_id, key, deterministic)

    return PaCoSAC(init=init, update=update, act=act, sac=algo)
