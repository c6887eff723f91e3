"""Old import path of PaCo / TaCo (paper 002): the code now lives in `jaxmeta.agents.paco` and
`jaxmeta.agents.taco`; this module re-exports every name it used to define.

- compositional layers: `jaxmeta.agents.paco.layers`
- `PaCoConfig`, `PaCoActor`, `PaCoCritic`, `make_paco_networks`: `jaxmeta.agents.paco.networks`
- w access, mask-out, w-reset, counters: `jaxmeta.agents.paco.reset`
- `PaCoState`, `PaCoSAC`, `make_paco_sac`, `extreme_skill_loss`: `jaxmeta.agents.paco.sac`
- `PaCoOptions`, `validate_paco_options`, `resolve_task_weights`, `initial_task_probabilities`:
  `jaxmeta.agents.paco.options`
- TaCo task sampling (`task_probabilities`, `allocate_tasks`, ...): `jaxmeta.agents.taco.sampling`
"""

from __future__ import annotations

from jaxmeta.agents.paco.layers import (
    MIX_MODES,
    W_INITS,
    CompositionalDense,
    CompositionalParams,
    PaCoMLP,
    _blocked_matmul,  # noqa: F401
    _declare_sets,  # noqa: F401
    _per_set_init,  # noqa: F401
    compositional_matmul,
    he_truncated_normal,
    lecun_truncated_normal,
    set_variance_scaling,
    structured_apply,
    w_initializer,
)
from jaxmeta.agents.paco.networks import PaCoActor, PaCoConfig, PaCoCritic, make_paco_networks
from jaxmeta.agents.paco.options import (
    NETWORK_FIELDS,
    TASK_SAMPLING_MODES,
    TASK_SAMPLINGS,
    TRANSFER_W_INITS,
    PaCoOptions,
    _opt_err,  # noqa: F401
    check_network_options,
    initial_task_probabilities,
    resolve_task_weights,
    validate_paco_options,
)
from jaxmeta.agents.paco.reset import (
    DEFAULT_LOSS_THRESHOLD,
    MASK_TIMINGS,
    RESET_METHODS,
    Params,
    ResetCounters,
    get_w,
    loss_mask,
    merge_shared_w,
    per_skill_mean,
    reset_coefficients,
    reset_params_w,
    reset_w,
    sample_mask_from_tasks,
    set_w,
    sync_shared_w,
    update_counters,
)
from jaxmeta.agents.paco.sac import PaCoSAC, PaCoState, extreme_skill_loss, make_paco_sac
from jaxmeta.agents.taco.sampling import (
    TACO_MT10_DOUBLED,
    TASK_SCHEMES,
    _skill_base,  # noqa: F401
    _validate_groups,  # noqa: F401
    allocate_tasks,
    group_tasks_dbscan,
    sample_tasks,
    taco_mt10_weights,
    taco_online_probabilities,
    task_parameters,
    task_probabilities,
)

__all__ = [
    "CompositionalDense",
    "CompositionalParams",
    "DEFAULT_LOSS_THRESHOLD",
    "MASK_TIMINGS",
    "MIX_MODES",
    "NETWORK_FIELDS",
    "PaCoActor",
    "PaCoConfig",
    "PaCoCritic",
    "PaCoMLP",
    "PaCoOptions",
    "PaCoSAC",
    "PaCoState",
    "Params",
    "RESET_METHODS",
    "ResetCounters",
    "TACO_MT10_DOUBLED",
    "TASK_SAMPLINGS",
    "TASK_SAMPLING_MODES",
    "TASK_SCHEMES",
    "TRANSFER_W_INITS",
    "W_INITS",
    "allocate_tasks",
    "check_network_options",
    "compositional_matmul",
    "extreme_skill_loss",
    "get_w",
    "group_tasks_dbscan",
    "he_truncated_normal",
    "initial_task_probabilities",
    "lecun_truncated_normal",
    "loss_mask",
    "make_paco_networks",
    "make_paco_sac",
    "merge_shared_w",
    "per_skill_mean",
    "reset_coefficients",
    "reset_params_w",
    "reset_w",
    "resolve_task_weights",
    "sample_mask_from_tasks",
    "sample_tasks",
    "set_variance_scaling",
    "set_w",
    "structured_apply",
    "sync_shared_w",
    "taco_mt10_weights",
    "taco_online_probabilities",
    "task_parameters",
    "task_probabilities",
    "update_counters",
    "validate_paco_options",
    "w_initializer",
]
