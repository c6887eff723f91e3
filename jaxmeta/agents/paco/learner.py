"""PaCo / TaCo learners for the trainer (`jaxmeta.learner.Learner` protocol; algos ``paco`` / ``taco``).

    cfg = TrainConfig(benchmark="MT10", algo="paco", paco=PaCoOptions(num_param_sets=5, ...))
    learner = make_paco_learner(cfg, buffer)        # what ALGOS["paco"].make_learner(cfg, buffer) does
    state = learner.init(key)                       # PaCoLearnerState
    state, replay, metrics = learner.update(state, replay, key)

Both learners are `make_learner` (``taco=False`` / ``True``; algo ``taco``'s entry point and what its
batches are: `jaxmeta.agents.taco.learner`). They run `jaxmeta.agents.paco.sac.make_paco_sac` (PaCo-SAC:
compositional actor / twin critic, loss mask-out, w-reset, shared w) on the networks of `paco_config`
(``TrainConfig.network``'s dimensions + ``TrainConfig.paco``, a `jaxmeta.agents.paco.options.PaCoOptions`)
and clamp ``log_alpha`` to ``[log_alpha_min, log_alpha_max]`` after every update (official: [-10, 0]).

- ``paco``: one batch per update from the run's replay (uniform / skill-balanced / prioritized, as
  configured; with ``balanced`` and ``T | B`` the structured fast path applies).
- ``taco``: batches follow the task distribution ``p (T,)`` held in the learner state; TaCo-online
  re-groups the tasks between chunks (`jaxmeta.agents.taco.learner`, `jaxmeta.agents.taco.sampling`).
- TaCo transfer (phase 2; ``TrainConfig.paco.transfer_from`` set, either algo; `jaxmeta.agents.taco.
  transfer`): the actor's Phi comes from the source checkpoint, critic and w are fresh; for the first
  ``transfer_explore_steps`` env steps the envs act with random subspace policies (`Learner.act`) and
  the updates train the critic only (actor, w and temperature are restored after each update); then
  everything trains (``transfer_fixed_phi``: Phi stays frozen, only w and the critic train).

Metrics per update (averaged over a chunk by the trainer): the SAC scalars, ``paco_num_masked`` (tasks
masked out), ``taco_exploring`` (transfer: 1 during the exploration phase). At the end of a chunk
(`Learner.state_metrics`): ``paco_total_resets``, ``paco_resets_per_skill (T,)``, and for taco
``taco_p_min``, ``taco_p_max``, ``taco_num_groups``, ``taco_p (T,)``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmeta.agents.paco.networks import PaCoConfig, make_paco_networks
from jaxmeta.agents.paco.options import initial_task_probabilities
from jaxmeta.agents.paco.sac import make_paco_sac
from jaxmeta.agents.taco import transfer as _taco
from jaxmeta.agents.taco.sampling import allocate_tasks, online_groups, task_parameters
from jaxmeta.agents.taco.transfer import transfer_phase_is_exploring
from jaxmeta.learner import Learner, sac_metrics, sampled_update

__all__ = ["PaCoLearnerState", "make_learner", "make_paco_learner", "paco_config"]


@struct.dataclass
class PaCoLearnerState:
    """State of the PaCo / TaCo learners (one pytree; checkpointed whole).

    paco: `jaxmeta.agents.paco.sac.PaCoState` (SAC state + mask-out / reset counters).
    task_probs: (T,) f32 TaCo task distribution (uniform for paco). num_groups: () int32 (TaCo groups).
    explore_basis: (T_src, K) f32 source tasks' w (transfer only, else None).
    explore_key: (2,) uint32 key of the exploration subspace policies (transfer only, else None).
    """

    paco: Any
    task_probs: jax.Array
    num_groups: jax.Array
    explore_basis: Any = None
    explore_key: Any = None


def paco_config(config) -> PaCoConfig:
    """The `PaCoConfig` of a `TrainConfig`: dims / widths / activation from ``network``, the network
    fields from ``paco`` (the `PaCoOptions` itself)."""
    net = config.network
    return PaCoConfig(
        obs_dim=net.obs_dim,
        action_dim=net.action_dim,
        num_skills=net.num_skills,
        hidden=net.hidden,
        activation=net.activation,
        options=config.paco,
    )


def make_paco_learner(config, buffer, constrain_batch: Callable | None = None) -> Learner:
    """Algo ``paco``: PaCo-SAC on the replay's batches (see module docstring)."""
    return make_learner(config, buffer, constrain_batch, taco=False)


def make_learner(config, buffer, constrain_batch: Callable | None = None, taco: bool = False) -> Learner:
    """The PaCo (``taco=False``) or TaCo (``taco=True``, `jaxmeta.agents.taco.learner`) learner of a
    `TrainConfig`; ``buffer=None`` builds the networks only (nothing is read)."""
    o = config.paco
    pcfg = paco_config(config)
    networks = make_paco_networks(pcfg)
    algo = make_paco_sac(
        config.sac,
        pcfg,
        mask_out=o.mask_out,
        reset=o.reset,
        threshold=float(o.loss_threshold),
        reset_method=o.reset_method,
        mask_timing=o.mask_timing,
    )
    T, B = pcfg.num_skills, config.batch_size
    skills = getattr(config, "skill_space", config.skills)  # the conditioning skill ids' skill names
    p0 = initial_task_probabilities(o, skills) if taco else np.full(T, 1.0 / T)
    transfer = o.transfer_from is not None
    if taco and buffer is not None and buffer.sample_in_skills is None and o.task_sampling_mode == "sample":
        raise ValueError("algo 'taco' needs a skill-balanced replay buffer (TrainConfig.balanced)")
    source = None
    if transfer:
        source = functools.lru_cache(maxsize=1)(
            lambda: _taco.load_source_phi(o.transfer_from, o.transfer_step, o.transfer_seed_index)
        )
        if buffer is not None:  # a real run: check and read the source now, outside any jit trace
            _taco.check_source_config(o.transfer_from, config)
            source()  # (networks-only rebuilds, buffer=None, never read it; their init must run eagerly)

    # ------------------------------------------------------------------------------------------ init
    def init(key: jax.Array) -> PaCoLearnerState:
        k_algo, k_w, k_x = jax.random.split(key, 3)
        ps = algo.init(k_algo)
        basis = xkey = None
        if transfer:
            src = source()
            s, basis = _taco.transfer_init(ps.sac, src, k_w, o.transfer_w_init, o.share_w)
            ps = ps.replace(sac=s)
            xkey = jax.random.fold_in(k_x, 0)
        return PaCoLearnerState(
            paco=ps,
            task_probs=jnp.asarray(p0, jnp.float32),
            num_groups=jnp.asarray(len(o.task_groups) if o.task_sampling == "grouped" else T if taco else 1, jnp.int32),
            explore_basis=basis,
            explore_key=xkey,
        )

    # ---------------------------------------------------------------------------------------- update
    def clamp_alpha(s):
        if o.log_alpha_min is None and o.log_alpha_max is None:
            return s
        lo = -jnp.inf if o.log_alpha_min is None else o.log_alpha_min
        hi = jnp.inf if o.log_alpha_max is None else o.log_alpha_max
        return s.replace(log_alpha=jnp.clip(s.log_alpha, lo, hi))

    def paco_step(state: PaCoLearnerState, batch, key, weights):
        old = state.paco.sac
        new, m, td = algo.update(state.paco, batch, key, weights)
        s = clamp_alpha(new.sac)
        out = sac_metrics(m)
        out["paco_num_masked"] = m["paco_num_masked"].astype(jnp.float32)
        if transfer:
            exploring = transfer_phase_is_exploring(config, old.step)
            s = _taco.restrict_transfer_update(old, s, exploring, o.transfer_fixed_phi, o.share_w)
            out["taco_exploring"] = exploring.astype(jnp.float32)
        return state.replace(paco=new.replace(sac=s)), out, td

    if not taco:
        update = sampled_update(paco_step, buffer, B, config.per, constrain_batch)
    else:

        def update(state: PaCoLearnerState, replay, key):
            k_sample, k_alloc, k_update = jax.random.split(key, 3)
            if o.task_sampling_mode == "sample":
                tids = allocate_tasks(k_alloc, state.task_probs, B, replay.skill_counts > 0)
                batch, _ = buffer.sample_in_skills(replay, k_sample, tids)
                weights = None
            else:
                batch, _ = buffer.sample(replay, k_sample, B)
                weights = T * state.task_probs[batch.skill_id]
            if constrain_batch is not None:
                batch = constrain_batch(batch)
            state, m, _ = paco_step(state, batch, k_update, weights)
            return state, replay, m

    # ------------------------------------------------------------------------------------ hooks
    def state_metrics(state: PaCoLearnerState):
        c = state.paco.counters
        out = {
            "paco_total_resets": c.total_resets.astype(jnp.float32),
            "paco_resets_per_skill": c.resets_per_skill.astype(jnp.float32),
        }
        if taco:
            out.update(
                taco_p=state.task_probs,
                taco_p_min=jnp.min(state.task_probs),
                taco_p_max=jnp.max(state.task_probs),
                taco_num_groups=state.num_groups.astype(jnp.float32),
            )
        return out

    between_chunks = None
    if taco and o.task_sampling == "online":

        def between_chunks(state: PaCoLearnerState, chunk: int, batched: bool) -> PaCoLearnerState:
            """TaCo-online: re-group the tasks (host side) when due; deterministic."""
            if chunk * config.env_steps_per_chunk < config.learning_starts:
                return state  # no update yet: theta is the initialisation
            if o.online_every > 0 and not config.due(chunk, o.online_every):
                return state
            actor = jax.device_get(state.paco.sac.actor_params)
            seeds = [jax.tree.map(lambda x, i=i: x[i], actor) for i in range(config.num_seeds)] if batched else [actor]
            probs, ngroups = [], []
            for a in seeds:
                groups, p = online_groups(task_parameters(a), o.online_eps, o.online_min_samples)
                probs.append(p)
                ngroups.append(len(groups))
            probs = np.stack(probs) if batched else probs[0]
            ngroups = np.asarray(ngroups) if batched else np.asarray(ngroups[0])
            return state.replace(task_probs=jnp.asarray(probs, jnp.float32), num_groups=jnp.asarray(ngroups, jnp.int32))

    act = None
    if transfer:
        act = _taco.make_transfer_act(config, pcfg, networks)

    return Learner(
        networks=networks,
        init=init,
        update=update,
        actor_params=lambda s: s.paco.sac.actor_params,
        critic_params=lambda s: s.paco.sac.critic_params,
        act=act,
        state_metrics=state_metrics,
        between_chunks=between_chunks,
    )
