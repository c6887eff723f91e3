"""Old import path of Reptile over SAC (paper 001): now `jaxmeta.agents.reptile.update` (the outer
step, `ReptileConfig`) and `jaxmeta.agents.reptile.learner` (`make_reptile_learner`, `pick_tasks`). This
module re-exports every name it used to define.
"""

from __future__ import annotations

from jaxmeta.agents.reptile.learner import make_reptile_learner, pick_tasks
from jaxmeta.agents.reptile.update import ReptileConfig, inner_loop, interpolate, make_reptile_update
from jaxmeta.sac import SAC, SACState, Transition

__all__ = [
    "SAC",
    "ReptileConfig",
    "SACState",
    "Transition",
    "inner_loop",
    "interpolate",
    "make_reptile_learner",
    "make_reptile_update",
    "pick_tasks",
]
