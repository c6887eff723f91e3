"""Old import path of TaCo phase 2 (transfer, paper 002 Algorithm 2) and its metrics (Sec. V-B): now
`jaxmeta.agents.taco.transfer` and `jaxmeta.agents.taco.metrics`. This module re-exports every name it
used to define.
"""

from __future__ import annotations

from jaxmeta.agents.taco.metrics import (
    _eval_rows,  # noqa: F401
    relative_transfer_cost,
    steps_to_success,
    transfer_metrics,
)
from jaxmeta.agents.taco.transfer import (
    TRANSFER_ALGOS,
    _explore_networks,  # noqa: F401
    _with_mlp,  # noqa: F401
    check_source_config,
    load_source_phi,
    make_transfer_act,
    restrict_transfer_update,
    subspace_policy_action,
    transfer_init,
)

__all__ = [
    "TRANSFER_ALGOS",
    "check_source_config",
    "load_source_phi",
    "make_transfer_act",
    "relative_transfer_cost",
    "restrict_transfer_update",
    "steps_to_success",
    "subspace_policy_action",
    "transfer_init",
    "transfer_metrics",
]
