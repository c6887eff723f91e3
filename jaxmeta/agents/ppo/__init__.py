"""Pure-functional multi-task PPO (Schulman et al. 2017) with GAE and running observation normalisation.

Modules: `losses` (GAE, clipped surrogate, value loss, diagnostics), `networks` (skill-conditioned
Gaussian policy and value net), `normalize` (running observation statistics), `ppo` (`make_ppo`). Like
the other `jaxmeta.agents` packages this file imports nothing; import the modules, e.g.
``from jaxmeta.agents.ppo.ppo import PPOConfig, make_ppo``; `train` is algo ``ppo`` in the trainer
(``jaxmeta train --algo ppo``: its rollout loop and `Learner`).
"""
