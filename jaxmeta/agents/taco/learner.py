"""The TaCo learner (algo ``taco``; paper 002 Sec. IV-A): PaCo-SAC with task-weighted update batches.

    cfg = TrainConfig(benchmark="MT10", algo="taco", paco=PaCoOptions(task_sampling="weighted", ...))
    learner = make_taco_learner(cfg, buffer)        # what ALGOS["taco"].make_learner(cfg, buffer) does

The learner body is shared with PaCo (`jaxmeta.agents.paco.learner.make_learner` with ``taco=True``:
same PaCo-SAC update, state `PaCoLearnerState`); what TaCo adds:

- The batch composition follows the task distribution ``p`` held in the learner state (``task_probs
  (T,)``, so changing it reuses the compiled chunk; initially `jaxmeta.agents.paco.options.
  initial_task_probabilities`): ``task_sampling_mode="sample"`` draws ``B p_t`` samples of task t
  (`jaxmeta.agents.taco.sampling.allocate_tasks`, stratified) from the skill-balanced replay's per-skill
  index (`ReplayBuffer.sample_in_skills`; the replay must be skill-balanced); ``"reweight"`` draws a
  skill-balanced batch and weights the losses by ``T p_t``.
- ``task_sampling="online"`` (TaCo-online) recomputes ``p`` between chunks (`Learner.between_chunks`,
  host side, deterministic): DBSCAN on the actor's task parameters theta_t = Phi w_t
  (`jaxmeta.agents.taco.sampling.task_parameters`), eps = ``online_eps`` x the median pairwise distance
  (`jaxmeta.agents.taco.sampling.online_groups`), groups balanced (``p_t = 1 / (|G| |g_i|)``).
- Chunk metrics ``taco_p_min``, ``taco_p_max``, ``taco_num_groups``, ``taco_p (T,)``.

Deviation from the paper / official code (stated): there, P decides which task an env runs after
each reset, so the *data collected* (and, through the replay, the batches) follow P; here every skill
keeps ``envs_per_skill`` envs (the env batch is fixed) and P shapes the *update batches* directly.
TaCo transfer (phase 2, either algo): `jaxmeta.agents.taco.transfer`.
"""

from __future__ import annotations

from typing import Callable

from jaxmeta.agents.paco.learner import make_learner
from jaxmeta.learner import Learner

__all__ = ["make_taco_learner"]


def make_taco_learner(config, buffer, constrain_batch: Callable | None = None) -> Learner:
    """Algo ``taco``: PaCo-SAC with TaCo task-weighted batches (needs the skill-balanced replay)."""
    return make_learner(config, buffer, constrain_batch, taco=True)
