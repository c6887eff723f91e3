"""TaCo: task-weighted PaCo (paper 002 Sec. IV) -- task sampling, the taco learner, transfer.

- `sampling`: task distributions (uniform / grouped / weighted, MT10 preset), stratified batch
  allocation, TaCo-online DBSCAN grouping of the task parameters.
- `learner`: `make_taco_learner` (algo ``taco``; the body is `jaxmeta.agents.paco.learner.make_learner`).
- `transfer`: phase 2 (Algorithm 2): restore Phi from a paco / taco run, explore with subspace policies.
- `metrics`: the transfer metrics of Sec. V-B from a run's metrics.csv.

Old paths: `jaxmeta.taco` (transfer + metrics), `jaxmeta.paco` (sampling), `jaxmeta.paco_learner`.
"""
