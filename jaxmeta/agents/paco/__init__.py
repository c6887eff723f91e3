"""PaCo: parameter-compositional multi-task SAC (paper 002; Sun et al., NeurIPS 2022).

Every trainable layer of the actor and of each critic holds ``K`` parameter sets ``Phi`` and a task's
parameters are ``theta_t = Phi w_t`` (Eqn. 1). Modules (dependencies point down this list's earlier
entries only, plus `jaxmeta.agents.taco.sampling` for the options and `jaxmeta.agents.taco.transfer`
for the learner):

- `layers`: compositional dense layers / MLP, the mix modes, the per-set initialisers.
- `reset`: w table access, shared-w sync, loss mask-out, w-reset (Eqn. 3), reset counters.
- `options`: `PaCoOptions` (``TrainConfig.paco``, every PaCo / TaCo setting) and its validation.
- `networks`: `PaCoConfig` (dims + a `PaCoOptions`), PaCo actor / twin critic, `make_paco_networks`.
- `sac`: `make_paco_sac`, the PaCo-SAC update (SAC + mask-out + w-reset + shared w).
- `learner`: the trainer's `Learner` for algos ``paco`` (and ``taco``, `jaxmeta.agents.taco.learner`).

The old flat module `jaxmeta.paco` re-exports all of them.
"""
