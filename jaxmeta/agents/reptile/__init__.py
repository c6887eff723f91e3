"""Reptile over SAC (paper 001 Algorithm 2), inner loops of a meta-batch vmapped on device.

- `options`: `ReptileConfig` (``TrainConfig.reptile``; `update` re-exports it).
- `update`: the pure outer step (`make_reptile_update`).
- `learner`: `make_reptile_learner` (algo ``reptile``) and its task choice `pick_tasks`.

Old path: `jaxmeta.reptile` re-exports both.
"""
