"""Old import path of the PaCo / TaCo learners: now `jaxmeta.agents.paco.learner` (``paco``, and the
shared body `make_learner`) and `jaxmeta.agents.taco.learner` (``taco``); `online_groups` is in
`jaxmeta.agents.taco.sampling`, `transfer_phase_is_exploring` in `jaxmeta.agents.taco.transfer`. This
module re-exports every name it used to define.
"""

from __future__ import annotations

from jaxmeta.agents.paco.learner import PaCoLearnerState, make_learner, make_paco_learner, paco_config
from jaxmeta.agents.taco.learner import make_taco_learner
from jaxmeta.agents.taco.sampling import online_groups
from jaxmeta.agents.taco.transfer import transfer_phase_is_exploring
from jaxmeta.learner import Learner, sac_metrics, sampled_update  # noqa: F401  (names the old module had)

_make = make_learner  # the old private name of the shared learner body

__all__ = [
    "PaCoLearnerState",
    "make_paco_learner",
    "make_taco_learner",
    "online_groups",
    "paco_config",
    "transfer_phase_is_exploring",
]
