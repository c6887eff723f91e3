"""TaCo phase 2: transfer RL (paper 002 Algorithm 2) from a trained paco / taco run.

Transfer runs through the normal trainer: a ``paco`` / ``taco`` `TrainConfig` whose
``paco.transfer_from`` names a finished paco/taco run directory (``experiments/taco_transfer.py``
drives source, transfer and from-scratch runs and reports the metrics, `jaxmeta.agents.taco.metrics`)::

    cfg = TrainConfig(benchmark="MT1/sweep-v3", algo="paco", warmup_steps=0,
                      paco=PaCoOptions(transfer_from="checkpoints/mt10-taco", transfer_explore_steps=20_000))
    summary = jaxmeta.train.train(cfg)

What happens (pure functions below, used by `jaxmeta.agents.paco.learner`):

1. ``Phi <-pi- Phi*``: the actor's compositional parameters (every layer's K sets) are restored from the
   source checkpoint (`load_source_phi`; the source's w table is kept as the exploration basis ``W``);
   the critic is fresh (re-using value functions fails, paper Sec. IV-B) and ``w_new`` is new
   (`transfer_init`: ``"fresh"`` = the network's initialiser, ``"convex"`` = ``beta W``, beta uniform on
   the simplex -- the paper does not say how w_new starts).
2. Exploration: for the first ``n_e`` env steps (``paco.transfer_explore_steps``, Table VII: 20000) the
   envs act with random subspace policies ``theta = Phi w~``, ``w~ = W^T beta``, ``beta`` uniform on the
   simplex over the source tasks, one beta per env and episode (episode ``= env_steps // (N L)``:
   Meta-World episodes are synchronous time-limit truncations) (`make_transfer_act`). We read the
   paper's ``w~ = W beta, beta ~ Delta^K`` with W = the source tasks' w vectors (a random point of the
   trained task subspace, like the w-reset). Only the value function trains: after every update of
   that phase the actor (Phi and w), its optimizer state and the temperature are restored
   (`restrict_transfer_update`; learner update ``u`` is critic-only iff `transfer_phase_is_exploring`, i.e. its
   trainer iteration acted with the exploration policy).
3. Then Phi and w train (``paco.transfer_fixed_phi=True``: Phi stays as restored, only w and the
   critic train -- Table V's "TaCo transferring with fixed Phi").

Shapes: ``T_src`` source tasks, ``K`` num_param_sets, ``N`` envs, ``A`` action_dim.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.agents.paco.networks import PaCoConfig, make_paco_networks
from jaxmeta.agents.paco.options import TRANSFER_W_INITS
from jaxmeta.agents.paco.reset import get_w, set_w

__all__ = [
    "TRANSFER_ALGOS",
    "check_source_config",
    "load_source_phi",
    "make_transfer_act",
    "restrict_transfer_update",
    "subspace_policy_action",
    "transfer_init",
    "transfer_phase_is_exploring",
]

TRANSFER_ALGOS = ("paco", "taco")


# ------------------------------------------------------------------------------------------ source
def check_source_config(run_dir: str, config) -> Any:
    """The source run's TrainConfig, checked against the transfer run's networks (no params read).

    Raises ValueError naming the mismatch: not a paco/taco run, no checkpoint, other widths /
    activation / K / head / obs or action sizes."""
    from jaxmeta.checkpoint import CheckpointError, latest_step, load_config

    try:
        src = load_config(run_dir)
    except CheckpointError as e:
        raise ValueError(f"TrainConfig.paco.transfer_from: {e}") from None
    if src.algo not in TRANSFER_ALGOS:
        raise ValueError(
            f"TrainConfig.paco.transfer_from={run_dir!r} is a {src.algo!r} run; TaCo transfer needs one of {TRANSFER_ALGOS}"
        )
    if latest_step(run_dir) is None:
        raise ValueError(f"TrainConfig.paco.transfer_from={run_dir!r} has no checkpoint")
    pairs = {
        "network.hidden": (src.network.hidden, config.network.hidden),
        "network.activation": (src.network.activation, config.network.activation),
        "network.obs_dim": (src.network.obs_dim, config.network.obs_dim),
        "network.action_dim": (src.network.action_dim, config.network.action_dim),
        "paco.num_param_sets": (src.paco.num_param_sets, config.paco.num_param_sets),
        "paco.compositional_head": (src.paco.compositional_head, config.paco.compositional_head),
    }
    bad = {k: v for k, v in pairs.items() if v[0] != v[1]}
    if bad:
        lines = ", ".join(f"{k}: source {a!r} vs transfer {b!r}" for k, (a, b) in bad.items())
        raise ValueError(f"TaCo transfer from {run_dir!r}: the networks differ ({lines})")
    return src


def load_source_phi(run_dir: str, step: int | None = None, seed_index: int = 0) -> dict:
    """``{"mlp": the actor's compositional MLP params (host arrays), "w": (T_src, K) source w table}``."""
    from jaxmeta.checkpoint import restore_policy

    pol = restore_policy(run_dir, step=step, seed_index=seed_index)
    actor = jax.device_get(pol["actor_params"])
    return {"mlp": actor["params"]["mlp"], "w": np.asarray(actor["params"]["w"], np.float32)}


def _with_mlp(params, mlp):
    inner = dict(params["params"])
    inner["mlp"] = mlp
    out = dict(params)
    out["params"] = inner
    return out


def transfer_init(sac_state, source: Mapping, key: jax.Array, w_init: str = "fresh", share_w: bool = True):
    """Phase-2 start from a fresh `SACState` (PaCo networks): the actor's Phi <- the source's, new w.

    ``source``: `load_source_phi`'s dict. Returns ``(sac_state, basis (T_src, K))``. The critic stays
    fresh; with ``share_w`` the critic and target critic get the actor's new w. Raises ValueError if the
    source MLP's structure or shapes differ from the actor's.
    """
    actor = sac_state.actor_params
    mine, theirs = actor["params"]["mlp"], source["mlp"]
    if jax.tree.structure(mine) != jax.tree.structure(theirs) or any(
        np.shape(a) != np.shape(b) for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(theirs))
    ):
        shapes = lambda t: jax.tree.map(np.shape, t)  # noqa: E731
        raise ValueError(f"TaCo transfer: source actor MLP {shapes(theirs)} does not match {shapes(mine)}")
    basis = jnp.asarray(source["w"], jnp.float32)
    w = get_w(actor)
    if w_init == "convex":
        g = jax.random.exponential(key, (w.shape[0], basis.shape[0]))
        w = (g / jnp.sum(g, axis=1, keepdims=True)) @ basis
    elif w_init != "fresh":
        raise ValueError(f"w_init must be one of {TRANSFER_W_INITS}, got {w_init!r}")
    mlp = jax.tree.map(lambda x, like: jnp.asarray(x, like.dtype), theirs, mine)
    actor = set_w(_with_mlp(actor, mlp), w)
    critic, target = sac_state.critic_params, sac_state.target_critic_params
    if share_w:
        critic, target = set_w(critic, w), set_w(target, w)
    return sac_state.replace(actor_params=actor, critic_params=critic, target_critic_params=target), basis


# ------------------------------------------------------------------------------------------ update
def restrict_transfer_update(old, new, exploring: jax.Array, fixed_phi: bool, share_w: bool):
    """Phase-2 update rule on `SACState`s before (``old``) and after (``new``) one PaCo-SAC update.

    ``exploring`` (() bool): only the critic learns -- actor params (Phi and w), actor optimizer state,
    log_alpha and its optimizer state are restored. ``fixed_phi``: the actor's Phi is always restored
    (only w moves). With ``share_w`` the critic and target critic use the actor's resulting w.
    """
    sel = lambda a, b: jax.tree.map(lambda x, y: jnp.where(exploring, x, y), a, b)  # noqa: E731
    actor = sel(old.actor_params, new.actor_params)
    if fixed_phi:
        actor = _with_mlp(actor, old.actor_params["params"]["mlp"])
    critic, target = new.critic_params, new.target_critic_params
    if share_w:
        w = get_w(actor)
        critic, target = set_w(critic, w), set_w(target, w)
    return new.replace(
        actor_params=actor,
        critic_params=critic,
        target_critic_params=target,
        actor_opt_state=sel(old.actor_opt_state, new.actor_opt_state),
        log_alpha=sel(old.log_alpha, new.log_alpha),
        alpha_opt_state=sel(old.alpha_opt_state, new.alpha_opt_state),
    )


# ------------------------------------------------------------------------------------------ acting
@functools.lru_cache(maxsize=8)
def _explore_networks(pcfg: PaCoConfig, num_envs: int):
    """PaCo networks with one w row per env (the per-env subspace policies share Phi)."""
    import dataclasses

    return make_paco_networks(dataclasses.replace(pcfg, num_skills=num_envs, mix_mode="outputs"))


def subspace_policy_action(
    pcfg: PaCoConfig, mlp, basis: jax.Array, obs: jax.Array, beta_key: jax.Array, key: jax.Array
) -> jax.Array:
    """Actions ``(N, A)`` of N random subspace policies: env ``e`` samples from ``pi_theta``,
    ``theta = Phi w~_e``, ``w~_e = beta_e^T W`` (``basis`` W (T_src, K)), ``beta_e`` uniform on the simplex
    (normalised Exponential(1), drawn with ``beta_key``)."""
    n = obs.shape[0]
    g = jax.random.exponential(beta_key, (n, basis.shape[0]))
    w = (g / jnp.sum(g, axis=1, keepdims=True)) @ basis
    nets = _explore_networks(pcfg, n)
    params = {"params": {"w": w, "mlp": mlp}}
    return nets.sample_action(params, obs, jnp.arange(n, dtype=jnp.int32), key)[0]


def make_transfer_act(config, pcfg: PaCoConfig, networks):
    """`Learner.act` of a transfer run: random subspace policies while ``env_steps < n_e`` (one beta
    per env and episode), the new task's policy ``Phi w_new`` afterwards."""
    n_e = int(config.paco.transfer_explore_steps)
    L = int(config.max_path_length)

    def act(state, obs, skill_id, key, env_steps):
        actor = state.paco.sac.actor_params

        def explore():
            episode = env_steps // (obs.shape[0] * L)
            beta_key = jax.random.fold_in(state.explore_key, episode)
            return subspace_policy_action(pcfg, actor["params"]["mlp"], state.explore_basis, obs, beta_key, key)

        def policy():
            return networks.sample_action(actor, obs, skill_id, key)[0]

        return jax.lax.cond(env_steps < n_e, explore, policy)

    return act


def transfer_phase_is_exploring(config, update_index: jax.Array) -> jax.Array:
    """() bool: is learner update number ``update_index`` (0-based) in TaCo transfer's exploration phase?

    The trainer's iteration ``i`` takes env steps ``[i NK, (i+1) NK)`` (``NK = env_steps_per_iter``) and
    acts with the exploration policy iff ``i NK < n_e``; its updates run from iteration
    ``i0 = ceil(learning_starts / NK) - 1`` on, ``updates_per_step`` per iteration, so update ``u``
    belongs to iteration ``i0 + u // U`` and is critic-only iff that iteration explored.
    """
    nk = config.env_steps_per_iter
    i0 = max(0, math.ceil(config.learning_starts / nk) - 1)
    it = i0 + update_index // config.updates_per_step
    return it * nk < config.paco.transfer_explore_steps
