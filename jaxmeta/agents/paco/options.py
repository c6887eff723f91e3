"""Options of the PaCo / TaCo learners (``TrainConfig.paco``, a `PaCoOptions`) and their validation.

`PaCoOptions` is the one definition of every PaCo / TaCo setting of a run: the network fields
(`NETWORK_FIELDS`: K, shared w, identical init, mix mode, w init, compositional head, actor log-std
clip), read by `jaxmeta.agents.paco.networks.PaCoConfig`, which holds a `PaCoOptions` rather than
copies of them; the mask-out / w-reset fields, read by `jaxmeta.agents.paco.sac.make_paco_sac`; the
TaCo task-sampling and transfer fields, read by the learners (`jaxmeta.agents.paco.learner`).

- `check_network_options(opts, where)`: the network fields alone (used by `PaCoConfig` with ``where=
  "PaCoConfig"`` and by `validate_paco_options`); raises ValueError ``"<where>.<field> must be ...,
  got <value>"``.
- `validate_paco_options(opts, skills, algo) -> PaCoOptions`: every field, against the run's skills
  (``T = len(skills)``) and algorithm; a dict of fields (JSON) is accepted; sequences are normalised to
  tuples. Nothing is compiled.
- `resolve_task_weights` ``(T,)`` weights of the ``"weighted"`` scheme; `initial_task_probabilities`
  ``(T,)`` TaCo's task distribution at the start of a run (`jaxmeta.agents.taco.sampling`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from jaxmeta.agents.paco.layers import MIX_MODES, W_INITS
from jaxmeta.agents.paco.reset import DEFAULT_LOSS_THRESHOLD, MASK_TIMINGS, RESET_METHODS
from jaxmeta.agents.taco.sampling import _validate_groups, taco_mt10_weights, task_probabilities

__all__ = [
    "NETWORK_FIELDS",
    "PaCoOptions",
    "TASK_SAMPLINGS",
    "TASK_SAMPLING_MODES",
    "TRANSFER_W_INITS",
    "check_network_options",
    "initial_task_probabilities",
    "resolve_task_weights",
    "validate_paco_options",
]

TASK_SAMPLINGS = ("uniform", "grouped", "weighted", "online")
TASK_SAMPLING_MODES = ("sample", "reweight")
TRANSFER_W_INITS = ("fresh", "convex")
# the fields of PaCoOptions that shape the networks (`PaCoConfig` reads them from its options)
NETWORK_FIELDS = (
    "num_param_sets",
    "share_w",
    "identical_init",
    "mix_mode",
    "w_init",
    "compositional_head",
    "log_std_min",
    "log_std_max",
)


@dataclasses.dataclass(frozen=True)
class PaCoOptions:
    """PaCo / TaCo settings of a training run (``TrainConfig.paco``; used by algos ``paco`` / ``taco``).

    Defaults are the official ones (paper 002 Table VII, github TToTMooN/paco-mtrl): K = 5, loss
    threshold 3e3, identical init of the K sets, one w shared by actor and critic, log-alpha clamped
    to [-10, 0], actor log-std clipped to [-10, 2]. The network widths / activation come from
    ``TrainConfig.network``, learning rates from ``TrainConfig.sac`` (w is trained with the actor's and
    the critic's Adam at their learning rates: Table VII's w learning rate 3e-4 = Table VI's).

    TaCo task sampling (algo ``taco``; ``task_sampling``):
      ``"uniform"``: p_t = 1/T. ``"grouped"``: p_t = 1/(|G| |g_i|) for ``task_groups`` (a partition of
      the task indices). ``"weighted"``: p proportional to ``task_weights`` (T floats), or, if those are
      None, ``upweight_factor`` for the ``upweighted_skills`` and 1 for the others (TaCo's MT10:
      pick-place, peg-insert-side, drawer-open x2). ``"online"`` (TaCo-online): start uniform; every
      ``online_every`` env steps (0: after every chunk, once learning has started) cluster the actor's
      task parameters theta_t = Phi w_t with DBSCAN (eps = ``online_eps`` x the median pairwise
      distance of the thetas, ``online_min_samples``) and balance the groups.
      ``task_sampling_mode``: ``"sample"`` draws B p_t samples of task t per batch (stratified);
      ``"reweight"`` keeps skill-balanced batches (B/T each, PaCo's fast path) and weights sample losses
      by T p_t (same expected gradient).
    TaCo transfer (phase 2; ``transfer_from`` = a paco/taco run directory): the actor's Phi is restored
    from its checkpoint (``transfer_step``, ``transfer_seed_index``), critic fresh, new w
    (``transfer_w_init``: ``"fresh"`` = the network's initialiser, ``"convex"`` = a random convex
    combination of the source tasks' w); for the first ``transfer_explore_steps`` env steps (n_e) the
    envs act with random subspace policies ``w = W beta`` (beta uniform on the simplex, one per env and
    episode) and only the critic trains; then Phi and w train (``transfer_fixed_phi``: only w).
    """

    num_param_sets: int = 5  # K, Table VII (network field)
    loss_threshold: float = DEFAULT_LOSS_THRESHOLD
    mask_out: bool = True
    reset: bool = True
    reset_method: str = "dirichlet"
    mask_timing: str = "exact"
    # network fields (NETWORK_FIELDS, with num_param_sets): read by PaCoConfig
    mix_mode: str = "structured"  # jaxmeta.agents.paco.layers.MIX_MODES
    share_w: bool = True  # one w for actor + critics (official)
    identical_init: bool = True  # official use_identical_init=True
    w_init: str = "fan_in"
    compositional_head: bool = True  # official share_action_projection=False
    log_std_min: float = -10.0  # official clipped_exp(-10, 2)
    log_std_max: float = 2.0
    log_alpha_min: float | None = -10.0
    log_alpha_max: float | None = 0.0
    # TaCo task sampling
    task_sampling: str = "uniform"
    task_sampling_mode: str = "sample"
    task_groups: tuple[tuple[int, ...], ...] | None = None
    task_weights: tuple[float, ...] | None = None
    upweighted_skills: tuple[str, ...] = ()
    upweight_factor: float = 2.0
    online_every: int = 0
    online_eps: float = 0.5
    online_min_samples: int = 2
    # TaCo transfer
    transfer_from: str | None = None
    transfer_step: int | None = None
    transfer_seed_index: int = 0
    transfer_explore_steps: int = 20_000
    transfer_fixed_phi: bool = False
    transfer_w_init: str = "fresh"

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples as lists)."""

        def plain(v):
            return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _opt_err(name: str, what: str, value: Any, where: str = "TrainConfig.paco") -> ValueError:
    return ValueError(f"{where}.{name} must be {what}, got {value!r}")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def check_network_options(opts: PaCoOptions, where: str = "TrainConfig.paco") -> None:
    """Check the `NETWORK_FIELDS` of ``opts``; raises ValueError ``"<where>.<field> must be ..."``."""
    if not _is_int(opts.num_param_sets) or opts.num_param_sets < 1:
        raise _opt_err("num_param_sets", "an int >= 1", opts.num_param_sets, where)
    for name in ("share_w", "identical_init", "compositional_head"):
        if not isinstance(getattr(opts, name), bool):
            raise _opt_err(name, "a bool", getattr(opts, name), where)
    for name, choices in (("mix_mode", MIX_MODES), ("w_init", W_INITS)):
        if getattr(opts, name) not in choices:
            raise _opt_err(name, f"one of {choices}", getattr(opts, name), where)
    for name in ("log_std_min", "log_std_max"):
        if not _is_num(getattr(opts, name)):
            raise _opt_err(name, "a finite number", getattr(opts, name), where)
    if not opts.log_std_min < opts.log_std_max:
        raise _opt_err("log_std_min", f"< log_std_max ({opts.log_std_max!r})", opts.log_std_min, where)
    if opts.identical_init and opts.w_init == "mean" and opts.num_param_sets > 1:
        raise ValueError(
            f"{where}: identical_init=True with w_init='mean' never breaks the symmetry between the "
            f"{opts.num_param_sets} parameter sets; use w_init='fan_in' or identical_init=False"
        )


def validate_paco_options(opts: Any, skills: Sequence[str], algo: str) -> PaCoOptions:
    """``opts`` (PaCoOptions or a dict of its fields, e.g. from JSON) checked against the run's skills
    and algorithm; returns a PaCoOptions with tuples normalised. Raises ValueError naming the field and
    the bad value (nothing is compiled)."""
    if isinstance(opts, dict):
        known = {f.name for f in dataclasses.fields(PaCoOptions)}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig.paco field(s) {unknown}; known: {sorted(known)}")
        opts = PaCoOptions(**opts)
    if not isinstance(opts, PaCoOptions):
        raise ValueError(f"TrainConfig.paco must be a PaCoOptions, got {opts!r}")
    check_network_options(opts)
    T = len(skills)
    fix: dict[str, Any] = {}

    if not _is_int(opts.online_min_samples) or opts.online_min_samples < 1:
        raise _opt_err("online_min_samples", "an int >= 1", opts.online_min_samples)
    for name in ("online_every", "transfer_explore_steps", "transfer_seed_index"):
        v = getattr(opts, name)
        if not _is_int(v) or v < 0:
            raise _opt_err(name, "an int >= 0", v)
    for name in ("mask_out", "reset", "transfer_fixed_phi"):
        if not isinstance(getattr(opts, name), bool):
            raise _opt_err(name, "a bool", getattr(opts, name))
    for name, choices in (
        ("reset_method", RESET_METHODS),
        ("mask_timing", MASK_TIMINGS),
        ("task_sampling", TASK_SAMPLINGS),
        ("task_sampling_mode", TASK_SAMPLING_MODES),
        ("transfer_w_init", TRANSFER_W_INITS),
    ):
        if getattr(opts, name) not in choices:
            raise _opt_err(name, f"one of {choices}", getattr(opts, name))
    for name in ("loss_threshold", "online_eps", "upweight_factor"):
        v = getattr(opts, name)
        if not _is_num(v) or v <= 0:
            raise _opt_err(name, "a finite number > 0", v)
    for name in ("log_alpha_min", "log_alpha_max"):
        v = getattr(opts, name)
        if v is not None and not _is_num(v):
            raise _opt_err(name, "a finite number or None", v)
    if opts.log_alpha_min is not None and opts.log_alpha_max is not None and opts.log_alpha_min >= opts.log_alpha_max:
        raise _opt_err("log_alpha_min", f"< log_alpha_max ({opts.log_alpha_max!r})", opts.log_alpha_min)
    if opts.transfer_from is not None and (not isinstance(opts.transfer_from, str) or not opts.transfer_from):
        raise _opt_err("transfer_from", "a run directory (non-empty string) or None", opts.transfer_from)
    if opts.transfer_step is not None and (not _is_int(opts.transfer_step) or opts.transfer_step < 0):
        raise _opt_err("transfer_step", "an int >= 0 or None", opts.transfer_step)

    # sequences: lists (JSON) -> tuples
    if opts.task_groups is not None:
        try:
            groups = tuple(tuple(int(t) for t in g) for g in opts.task_groups)
        except (TypeError, ValueError):
            raise _opt_err("task_groups", "a sequence of sequences of task indices", opts.task_groups) from None
        fix["task_groups"] = groups
    if opts.task_weights is not None:
        try:
            fix["task_weights"] = tuple(float(w) for w in opts.task_weights)
        except (TypeError, ValueError):
            raise _opt_err("task_weights", f"{T} non-negative numbers", opts.task_weights) from None
    if isinstance(opts.upweighted_skills, str) or not all(isinstance(s, str) for s in opts.upweighted_skills):
        raise _opt_err("upweighted_skills", "a sequence of skill names", opts.upweighted_skills)
    fix["upweighted_skills"] = tuple(opts.upweighted_skills)
    opts = dataclasses.replace(opts, **fix)

    # scheme vs algorithm and benchmark
    if opts.task_sampling != "uniform" and algo != "taco":
        raise ValueError(f"TrainConfig.paco.task_sampling={opts.task_sampling!r} needs algo 'taco' (got algo {algo!r})")
    if opts.task_sampling == "grouped":
        if opts.task_groups is None:
            raise ValueError("TrainConfig.paco.task_sampling='grouped' needs paco.task_groups")
        try:
            _validate_groups(opts.task_groups, T)
        except ValueError as e:
            raise ValueError(f"TrainConfig.paco.task_groups: {e}") from None
    if opts.task_sampling == "weighted":
        if opts.task_weights is None and not opts.upweighted_skills:
            raise ValueError(
                "TrainConfig.paco.task_sampling='weighted' needs paco.task_weights or paco.upweighted_skills"
            )
        try:
            task_probabilities("weighted", T, weights=resolve_task_weights(opts, skills))
        except ValueError as e:
            raise ValueError(f"TrainConfig.paco.task_weights: {e}") from None
    return opts


def resolve_task_weights(opts: PaCoOptions, skills: Sequence[str]) -> np.ndarray:
    """The ``(T,)`` weights of the ``"weighted"`` scheme: ``task_weights`` or the upweighted skills."""
    if opts.task_weights is not None:
        return np.asarray(opts.task_weights, np.float64)
    return taco_mt10_weights(skills, opts.upweighted_skills, opts.upweight_factor)


def initial_task_probabilities(opts: PaCoOptions, skills: Sequence[str]) -> np.ndarray:
    """TaCo's task distribution at the start of a run (``"online"`` starts uniform)."""
    T = len(skills)
    if opts.task_sampling == "grouped":
        return task_probabilities("grouped", T, groups=opts.task_groups)
    if opts.task_sampling == "weighted":
        return task_probabilities("weighted", T, weights=resolve_task_weights(opts, skills))
    return task_probabilities("uniform", T)
