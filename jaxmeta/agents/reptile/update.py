"""Reptile (Nichol et al. 2018) over SAC, with the inner loops of a meta-batch vmapped on device.

Off-policy Reptile as in paper 001 (Algorithm 2): for a meta-batch of M tasks, start every task
from the same meta-parameters theta, run k SAC updates on that task's own data (task-specific batches),
then move theta towards the mean of the adapted parameters:

    theta <- theta + eps * (mean_i theta_i - theta)

All M inner loops run at once (`jax.vmap` over tasks of a `lax.scan` over k updates); the whole outer
step is one pure, jit-able function.

Shapes: ``M`` meta_batch, ``k`` inner_steps, ``B`` batch. What is interpolated: every floating-point
leaf of the `SACState` (actor, critic and target-critic params, per-skill log_alpha, and the optimizer
moments, so Adam's statistics follow the meta-parameters); integer leaves (update counters) advance by
k. The trainer's learner over this step: `jaxmeta.agents.reptile.learner`.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from jaxmeta.agents.reptile.options import ReptileConfig
from jaxmeta.sac import SAC, SACState, Transition

__all__ = ["ReptileConfig", "inner_loop", "interpolate", "make_reptile_update"]


def interpolate(theta: SACState, adapted_mean: SACState, eps) -> SACState:
    """theta + eps * (adapted_mean - theta) on float leaves; integer leaves from adapted_mean."""

    def mix(a, b):
        if jnp.issubdtype(a.dtype, jnp.floating):
            return a + eps * (b - a)
        return b

    return jax.tree.map(mix, theta, adapted_mean)


def inner_loop(sac: SAC, state: SACState, batches: Transition, key: jax.Array) -> tuple[SACState, dict]:
    """k SAC updates of one task. batches: Transition with leading axis k (k, B, ...)."""
    k = batches.reward.shape[0]

    def body(s, xs):
        batch, kk = xs
        s, metrics, _ = sac.update(s, batch, kk)
        return s, metrics

    state, metrics = jax.lax.scan(body, state, (batches, jax.random.split(key, k)))
    return state, jax.tree.map(lambda m: m[-1], metrics)


def make_reptile_update(sac: SAC, config: ReptileConfig):
    """Returns `update(theta, task_batches, key) -> (theta', metrics)`.

    task_batches: Transition with leading axes (M, k, B, ...): M tasks' k batches each, every batch
    drawn from that task's data only. metrics: the mean over tasks of the last inner update's metrics.
    """

    def update(theta: SACState, task_batches: Transition, key: jax.Array):
        m = task_batches.reward.shape[0]
        if task_batches.reward.ndim != 3:
            raise ValueError(
                f"task_batches.reward must have shape (meta_batch, inner_steps, batch), got {task_batches.reward.shape}"
            )
        keys = jax.random.split(key, m)
        adapted, metrics = jax.vmap(lambda b, k: inner_loop(sac, theta, b, k))(task_batches, keys)
        mean = jax.tree.map(lambda x: jnp.mean(x, axis=0) if jnp.issubdtype(x.dtype, jnp.floating) else x[0], adapted)
        new = interpolate(theta, mean, config.outer_lr)
        metrics = jax.tree.map(lambda x: jnp.mean(x, axis=0), metrics)
        return new, metrics

    return update
