"""The Reptile learner (``jaxmeta train --algo reptile``; paper 001 Algorithm 2, off-policy).

`make_reptile_learner` wraps the outer step of `jaxmeta.agents.reptile.update` as a
`jaxmeta.learner.Learner`: one learner ``update`` = one outer step = M x k SAC gradient steps (k
sequential steps of M vmapped tasks). It picks M distinct tasks that have data (`pick_tasks`: uniformly;
cycling when fewer than M tasks have data, e.g. M tasks of MT1/ML1's single skill get M independent
batch streams), draws each task's k batches of ``batch_size`` from that task's transitions only
(skill-balanced buffer, `ReplayBuffer.sample_in_skills`), and runs `make_reptile_update`. PER is not
supported (per-skill uniform batches). The state is a plain `SACState`, so a Reptile checkpoint is
fine-tuned with ordinary MT-SAC updates (`jaxmeta.finetune`), the meta-test adaptation of paper 001.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmeta.agents.reptile.update import make_reptile_update
from jaxmeta.sac import SACState

__all__ = ["make_reptile_learner", "pick_tasks"]


def pick_tasks(skill_counts: jax.Array, key: jax.Array, meta_batch: int) -> jax.Array:
    """(meta_batch,) int32 skill ids: distinct tasks with data in a random order (cycling when fewer than
    meta_batch tasks have data; task 0 if none has)."""
    T = skill_counts.shape[0]
    has = skill_counts > 0
    scores = jax.random.uniform(key, (T,)) + jnp.where(has, 0.0, 2.0)
    order = jnp.argsort(scores).astype(jnp.int32)
    k = jnp.maximum(jnp.sum(has.astype(jnp.int32)), 1)
    return order[jnp.arange(meta_batch, dtype=jnp.int32) % k]


def make_reptile_learner(config, buffer, constrain_batch=None):
    """`jaxmeta.learner.Learner` of Reptile over MT-SAC for a `jaxmeta.config.TrainConfig` (``algo
    "reptile"``, options in ``config.reptile``). ``buffer`` must be skill-balanced (the config forces it).
    ``constrain_batch`` is not used (the per-skill batches are vmapped, not split over devices)."""
    from jaxmeta.learner import Learner, sac_metrics
    from jaxmeta.networks import make_networks
    from jaxmeta.sac import make_sac

    networks = make_networks(config.network)
    sac = make_sac(config.sac, networks)
    rc = config.reptile
    outer = make_reptile_update(sac, rc)
    M, K, B = rc.meta_batch, rc.inner_steps, config.batch_size

    def update(state: SACState, replay, key: jax.Array):
        if buffer is None or buffer.kind != "balanced":
            raise ValueError("the Reptile learner needs a skill-balanced replay buffer (TrainConfig.balanced)")
        k_task, k_sample, k_update = jax.random.split(key, 3)
        tasks = pick_tasks(replay.skill_counts, k_task, M)
        tids = jnp.repeat(tasks, K * B)
        batch, _ = buffer.sample_in_skills(replay, k_sample, tids)
        batch = jax.tree.map(lambda x: x.reshape((M, K, B) + x.shape[1:]), batch)
        state, m = outer(state, batch, k_update)
        return state, replay, sac_metrics(m)

    return Learner(
        networks=networks,
        init=sac.init,
        update=update,
        actor_params=lambda s: s.actor_params,
        critic_params=lambda s: s.critic_params,
    )
