"""The learner protocol: how the training loop (`jaxmeta.train`) drives an algorithm.

The trainer owns the envs, the replay buffer, the scan and the logging; an algorithm only says how to
initialise its state, how to do one learning update from the replay buffer, and where its policy is::

    learner = make_sac_learner(cfg, buffer)          # or ALGOS[cfg.algo].learner(cfg, buffer)
    state = learner.init(key)                        # any pytree (SACState, PaCoState, ...)
    state, replay, metrics = learner.update(state, replay, key)   # one update (samples itself)
    a, _ = learner.networks.sample_action(learner.actor_params(state), obs, skill_id, key)

``update`` samples its own batch(es) from the replay state, so algorithms that need other batches than
one mixed batch (Reptile: per-skill batches of a meta-batch of tasks) fit the same loop; algorithms that
use PER write their priorities back and return the new replay state. ``metrics`` is a flat dict of
float32 arrays of shape () or (T,) (T = number of skills); the trainer averages them over the updates of
a chunk and logs the scalar ones.

Non-finite updates (`sampled_update`): an update whose new state has a NaN or inf anywhere (parameters,
optimizer moments, temperature: e.g. from a corrupt batch or a diverging loss) is not applied; the
state stays as it was and the metric ``nonfinite_update`` (1 for that update, else 0; logged as the
fraction of a chunk's updates) counts it. A finite update is returned unchanged (bitwise).

`make_sac_learner` is the MT-SAC / MH-SAC learner. Other learners (PaCo, TaCo, Reptile) are built by the
factory named in their `jaxmeta.config.AlgoSpec`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxmeta.networks import Networks, make_networks
from jaxmeta.replay import ReplayBuffer
from jaxmeta.sac import make_sac

__all__ = [
    "Learner",
    "PEARL_SCALARS",
    "PPO_SCALARS",
    "SAC_SCALARS",
    "all_finite",
    "keep_if_finite",
    "make_sac_learner",
    "no_memoryless_policy",
    "sac_metrics",
    "sampled_update",
]

Metrics = dict[str, jax.Array]

#: Scalar SAC metrics forwarded to the training log (plus ``alpha_per_skill (T,)``).
SAC_SCALARS = (
    "critic_loss",
    "actor_loss",
    "alpha_loss",
    "alpha",
    "entropy",
    "q_mean",
    "target_q_mean",
    "td_error",
    "critic_grad_norm",
    "actor_grad_norm",
)

#: Scalar PPO metrics (`jaxmeta.agents.ppo.train`) forwarded to the training log besides ``entropy``.
PPO_SCALARS = (
    "policy_loss",
    "value_loss",
    "total_loss",
    "approx_kl",
    "clip_fraction",
    "grad_norm",
    "explained_variance",
    "advantage_std",
    "return_mean",
    "value_mean",
)

#: Scalar PEARL metrics (`jaxmeta.agents.pearl.train`) forwarded to the training log besides the SAC ones.
PEARL_SCALARS = ("kl", "z_var_mean", "encoder_grad_norm")


class Learner(NamedTuple):
    """An algorithm as the trainer sees it (all functions pure and jit-able).

    networks: the actor/critic family (`jaxmeta.networks.Networks` protocol); the trainer acts with
        ``networks.sample_action`` and evaluates with ``networks.deterministic_action``.
    init(key) -> state: the algorithm's whole learning state (params, optimizer states, counters).
    update(state, replay, key) -> (state, replay, metrics): one update, sampling from ``replay``.
    actor_params(state) -> the actor parameters (acting, evaluation, policy export).
    critic_params(state) -> the critic parameters (policy export for fine-tuning / transfer).

    Optional hooks (None: the trainer's default behaviour):
    act(state, obs (N,O), skill_id (N,), key, env_steps ()) -> action (N,A): acting after warm-up
        (default: ``networks.sample_action(actor_params(state), ...)``); TaCo transfer explores with
        random subspace policies for its first n_e env steps through it. Pure, jit-able.
    state_metrics(state) -> {name: () or (T,) f32}: metrics read from the state at the end of a chunk
        (cumulative counters such as PaCo's total w-resets), added to the chunk's metrics. Pure.
    between_chunks(state, chunk, batched) -> state: host-side (not jitted) step run by `train.train`
        after every chunk, before evaluation and checkpointing (TaCo-online re-groups tasks by DBSCAN
        and writes the new task probabilities into the state). It must keep every leaf's shape and
        dtype (the compiled chunk is reused) and be deterministic (exact resume). ``chunk`` is 1-based,
        ``batched``: the state has a leading seed axis.
    load_policy(state, actor_params) -> state: `state` acting with a policy export (``actor_params(s)`` of
        a saved run, as `jaxmeta.checkpoint.restore_policy` reads it back); used to meta-test algorithms
        whose policy needs more than the memoryless `networks` (RL2, PEARL: `jaxmeta.meta_test`).
    """

    networks: Networks
    init: Callable[[jax.Array], Any]
    update: Callable[[Any, Any, jax.Array], tuple[Any, Any, Metrics]]
    actor_params: Callable[[Any], Any]
    critic_params: Callable[[Any], Any]
    act: Callable[..., jax.Array] | None = None
    state_metrics: Callable[[Any], Metrics] | None = None
    between_chunks: Callable[[Any, int, bool], Any] | None = None
    load_policy: Callable[[Any, Any], Any] | None = None


def no_memoryless_policy(algo: str, why: str) -> Networks:
    """A `Networks` view whose functions raise: `algo`'s policy is not a function of the observation alone
    (`why`), so it is evaluated through the trainer (`jaxmeta.meta_test`, ``jaxmeta eval RUN``)."""

    def unavailable(*_a, **_k):
        raise NotImplementedError(
            f"{algo}'s policy {why}: evaluate it through the trainer (jaxmeta.meta_test.meta_test, i.e. "
            f"jaxmeta eval RUN [--split test]), not as a memoryless policy"
        )

    return Networks(*(unavailable,) * 6)


def sac_metrics(m: Metrics) -> Metrics:
    """The subset of `sac.update` metrics the trainer logs."""
    out = {k: m[k] for k in SAC_SCALARS}
    out["alpha_per_skill"] = m["alpha_per_skill"]
    return out


def all_finite(tree: Any) -> jax.Array:
    """() bool: every float leaf of `tree` is finite (integer and bool leaves are ignored)."""
    checks = [
        jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    return jnp.all(jnp.stack(checks)) if checks else jnp.array(True)


def keep_if_finite(new: Any, state: Any, metrics: Metrics) -> tuple[Any, Metrics]:
    """`new` where every float leaf of it is finite, else `state` unchanged (module docstring); `metrics` (a
    copy) gets ``nonfinite_update``: 1 where `new` was refused, else 0."""
    ok = all_finite(new)
    m = dict(metrics)
    m["nonfinite_update"] = 1.0 - ok.astype(jnp.float32)
    return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, state), m


def sampled_update(
    update_fn: Callable,
    buffer: ReplayBuffer,
    batch_size: int,
    per: bool,
    constrain_batch: Callable[[Any], Any] | None = None,
) -> Callable:
    """``update(state, replay, key)`` from a ``update_fn(state, batch, key, weights) -> (state, metrics,
    td_error (B,))``: samples one batch of `batch_size` (uniform / balanced / prioritized, as the
    buffer was built), passes the IS weights when `per`, and writes back ``|td_error|`` priorities.
    ``constrain_batch`` (optional) is applied to the sampled batch (sharding constraints). A non-finite
    new state is not applied (module docstring; metric ``nonfinite_update``)."""

    def update(state, replay, key):
        k_sample, k_update = jax.random.split(key)
        batch, info = buffer.sample(replay, k_sample, batch_size)
        if constrain_batch is not None:
            batch = constrain_batch(batch)
        new, m, td = update_fn(state, batch, k_update, info.weights if per else None)
        state, m = keep_if_finite(new, state, m)
        replay = buffer.set_priorities(replay, info.indices, td)  # (non-finite |td|: the buffer's max priority)
        if per:
            m["per_beta"] = buffer.beta(replay)
            m["per_weight_min"] = jnp.min(info.weights)
        return state, replay, m

    return update


def make_sac_learner(config, buffer: ReplayBuffer, constrain_batch: Callable[[Any], Any] | None = None) -> Learner:
    """MT-SAC / MH-SAC (`jaxmeta.sac`) on `config.network` / `config.sac` (a `jaxmeta.config.TrainConfig`)."""
    networks = make_networks(config.network)
    sac = make_sac(config.sac, networks)

    def update_fn(state, batch, key, weights):
        state, m, td = sac.update(state, batch, key, weights)
        return state, sac_metrics(m), td

    return Learner(
        networks=networks,
        init=sac.init,
        update=sampled_update(update_fn, buffer, config.batch_size, config.per, constrain_batch),
        actor_params=lambda s: s.actor_params,
        critic_params=lambda s: s.critic_params,
    )
