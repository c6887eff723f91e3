"""Pure-functional multi-task PPO (Schulman et al. 2017) with GAE and running observation normalisation.

Modules: `losses` (GAE, clipped surrogate, value loss, diagnostics), `networks` (skill-conditioned
Gaussian policy and value net), `normalize` (running observation statistics), `ppo` (`make_ppo`). Like
the other `jaxmeta.agents` packages this file imports nothing; import the modules, e.g.
``from jaxmeta.agents.ppo.ppo import PPOConfig, make_ppo``. (Not yet a trainer algorithm: ``--algo ppo``
needs its own rollout program, issue 19.)
"""
