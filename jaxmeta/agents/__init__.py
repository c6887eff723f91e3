"""The training algorithms beyond plain multi-task SAC, one package each, one concept per module.

- `jaxmeta.agents.paco`: PaCo (paper 002): compositional layers, networks, mask-out / w-reset, PaCo-SAC,
  options, learner.
- `jaxmeta.agents.taco`: TaCo (paper 002): task sampling, the taco learner, transfer (phase 2) and its
  metrics.
- `jaxmeta.agents.reptile`: Reptile over SAC (paper 001): outer step, learner.
- `jaxmeta.agents.ppo`: multi-task PPO (its package docstring).

Algorithms are registered in `jaxmeta.config.ALGOS` by import path (``"module:function"``), so
registering them imports nothing. This file imports nothing, nor do the ``paco`` / ``taco`` / ``reptile``
package files (the modules of `paco` and `taco` import each other's, never in a cycle); import the
modules, e.g. ``from jaxmeta.agents.paco.sac import make_paco_sac``.
"""
