"""PaCo's w table access, loss mask-out and w-reset (paper 002 Sec. III-C, Eqn. 3) as pure functions.

Shapes: ``B`` batch, ``T`` num_skills, ``K`` num_param_sets; PaCo actor / critic params hold their
compositional-vector table at ``params["params"]["w"] (T, K)`` (`jaxmeta.agents.paco.networks`).

- w access: `get_w` / `set_w`; shared w (one table for actor, both critics and the target critic, as
  the official code's one ``TaskEncodingNetwork``): each of actor and critic holds a copy of ``w`` moved
  by its own Adam, and `sync_shared_w` merges them after each update, ``w <- w + (w_actor' - w) +
  (w_critic' - w)`` (`merge_shared_w`; both losses move w as in the official gradient flow, with
  per-loss Adam normalisation -- the one deviation), and writes the result to actor, critic and target
  critic (the target critic uses the live w).
- Mask-out: `per_skill_mean` of a per-sample loss ``(B,) -> (T,)``, `loss_mask` (``valid (T,) bool``:
  finite and ``<= threshold``, default `DEFAULT_LOSS_THRESHOLD` = 3e3, Table VII; the official ``>``
  comparison lets NaN through, we do not), `sample_mask_from_tasks` ``(B,) f32``. Tasks absent from the
  batch have loss 0 and are valid. `MASK_TIMINGS`: when `jaxmeta.agents.paco.sac` reads ``valid``.
- w-reset, Eqn. (3): ``w_eta = sum_{j in V} beta_j w_j`` for every invalid task eta (`reset_w`,
  `reset_params_w`); `reset_coefficients` draws ``beta (T, T)``, one row per skill: ``"dirichlet"``
  (default, uniform on the simplex as the paper says), ``"normalized_uniform"`` (``u / |u|_1``,
  ``u ~ U[0,1)``, the official code; not uniform on the simplex), ``"copy"`` (w of one random valid
  task). If no task is valid ``w`` is left unchanged (the official code would set it to 0). Adam
  moments of a reset ``w`` are not reset (as in the official code).
- Counters (`ResetCounters`, `update_counters`, int32): tasks masked at the last update, resets per
  task and in total (official ``_extreme_task_count``).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import chex
import jax
import jax.numpy as jnp

__all__ = [
    "DEFAULT_LOSS_THRESHOLD",
    "MASK_TIMINGS",
    "RESET_METHODS",
    "ResetCounters",
    "get_w",
    "loss_mask",
    "merge_shared_w",
    "per_skill_mean",
    "reset_coefficients",
    "reset_params_w",
    "reset_w",
    "sample_mask_from_tasks",
    "set_w",
    "sync_shared_w",
    "update_counters",
]

Params = Any

RESET_METHODS = ("dirichlet", "normalized_uniform", "copy")
DEFAULT_LOSS_THRESHOLD = 3e3  # Table VII, "extreme loss threshold"
MASK_TIMINGS = ("exact", "lagged")


# --------------------------------------------------------------------------------------------------
# w access


def get_w(params: Params) -> jax.Array:
    """The ``(T, K)`` compositional-vector table of PaCo actor or critic params."""
    return params["params"]["w"]


def set_w(params: Params, w: jax.Array) -> Params:
    """Copy of ``params`` with the ``w`` table replaced (other leaves shared, not copied)."""
    inner = dict(params["params"])
    chex.assert_equal_shape([inner["w"], w])
    inner["w"] = w.astype(inner["w"].dtype)
    out = dict(params)
    out["params"] = inner
    return type(params)(out) if not isinstance(params, dict) else out


def merge_shared_w(w_before: jax.Array, w_actor: jax.Array, w_critic: jax.Array) -> jax.Array:
    """Shared-w update from the two optimizers' steps: ``w + (w_actor - w) + (w_critic - w)``."""
    return w_actor + w_critic - w_before


def sync_shared_w(
    w_before: jax.Array, actor_params: Params, critic_params: Params, target_critic_params: Params | None = None
) -> tuple[Params, Params, Params | None]:
    """After an update with ``share_w``: merge both w steps and write the result everywhere.

    Returns ``(actor_params, critic_params, target_critic_params)`` all holding the merged ``w``
    (the target critic uses the live shared w, as in the official code).
    """
    w = merge_shared_w(w_before, get_w(actor_params), get_w(critic_params))
    target = None if target_critic_params is None else set_w(target_critic_params, w)
    return set_w(actor_params, w), set_w(critic_params, w), target


# --------------------------------------------------------------------------------------------------
# Mask-out and w-reset


def per_skill_mean(per_sample: jax.Array, skill_id: jax.Array, num_skills: int) -> jax.Array:
    """Mean of ``per_sample (B,)`` over each task's samples -> ``(T,)``; 0 for tasks not in the batch."""
    chex.assert_rank([per_sample, skill_id], [1, 1])
    sums = jax.ops.segment_sum(per_sample, skill_id, num_segments=num_skills)
    counts = jax.ops.segment_sum(jnp.ones_like(per_sample), skill_id, num_segments=num_skills)
    return jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), 0.0)


def loss_mask(per_skill_loss: jax.Array, threshold: float = DEFAULT_LOSS_THRESHOLD) -> jax.Array:
    """``valid (T,) bool``: task loss finite and ``<= threshold`` (official: masked iff loss > threshold)."""
    chex.assert_rank(per_skill_loss, 1)
    return jnp.isfinite(per_skill_loss) & (per_skill_loss <= threshold)


def sample_mask_from_tasks(valid: jax.Array, skill_id: jax.Array) -> jax.Array:
    """Per-sample mask ``(B,) f32``: 1 where the sample's task is valid, 0 where it is masked out."""
    chex.assert_rank([valid, skill_id], [1, 1])
    return valid[skill_id].astype(jnp.float32)


def reset_coefficients(valid: jax.Array, key: jax.Array, method: str = "dirichlet") -> jax.Array:
    """``beta (T, T)``: row ``i`` is task i's mixing weights over tasks, supported on the valid ones.

    ``"dirichlet"``: Dirichlet(1) on the valid tasks (normalised iid Exponential(1)), uniform on the
    simplex (paper). ``"normalized_uniform"``: ``u / sum(u)``, ``u ~ U[0,1)`` (official code).
    ``"copy"``: one-hot on a uniformly drawn valid task. Rows sum to 1 if any task is valid, else 0.
    """
    chex.assert_rank(valid, 1)
    t = valid.shape[0]
    v = valid.astype(jnp.float32)[None, :]
    if method == "dirichlet":
        g = jax.random.exponential(key, (t, t)) * v
    elif method == "normalized_uniform":
        g = jax.random.uniform(key, (t, t)) * v
    elif method == "copy":
        logits = jnp.where(valid[None, :], 0.0, -jnp.inf) * jnp.ones((t, 1))
        choice = jax.random.categorical(key, logits, axis=-1)
        return jax.nn.one_hot(choice, t) * jnp.any(valid)
    else:
        raise ValueError(f"reset method must be one of {RESET_METHODS}, got {method!r}")
    total = jnp.sum(g, axis=-1, keepdims=True)
    return jnp.where(total > 0, g / jnp.where(total > 0, total, 1.0), 0.0)


def reset_w(w: jax.Array, valid: jax.Array, key: jax.Array, method: str = "dirichlet") -> jax.Array:
    """Eqn. (3): every invalid task's ``w`` becomes ``sum_{j valid} beta_j w_j``, valid tasks untouched.

    w (T, K), valid (T,) bool -> (T, K). If no task is valid, ``w`` is returned unchanged.
    """
    chex.assert_rank([w, valid], [2, 1])
    chex.assert_equal(w.shape[0], valid.shape[0])
    beta = reset_coefficients(valid, key, method)
    new = beta @ w
    keep = valid[:, None] | ~jnp.any(valid)
    return jnp.where(keep, w, new.astype(w.dtype))


class ResetCounters(NamedTuple):
    """Mask-out / reset metrics (int32). ``num_masked``: tasks masked at the last update;
    ``resets_per_skill (T,)`` and ``total_resets``: cumulative over training."""

    num_masked: jax.Array
    resets_per_skill: jax.Array
    total_resets: jax.Array

    @classmethod
    def zeros(cls, num_skills: int) -> "ResetCounters":
        return cls(jnp.zeros((), jnp.int32), jnp.zeros((num_skills,), jnp.int32), jnp.zeros((), jnp.int32))


def update_counters(counters: ResetCounters, valid: jax.Array, reset: bool | jax.Array = True) -> ResetCounters:
    """Count this update's masked tasks; add them to the reset totals when ``reset`` (and some task is
    valid -- with no valid task nothing is reset)."""
    invalid = (~valid).astype(jnp.int32)
    did_reset = jnp.logical_and(jnp.asarray(reset), jnp.any(valid)).astype(jnp.int32)
    return ResetCounters(
        num_masked=jnp.sum(invalid),
        resets_per_skill=counters.resets_per_skill + invalid * did_reset,
        total_resets=counters.total_resets + jnp.sum(invalid) * did_reset,
    )


def reset_params_w(
    params_list: Sequence[Params | None], valid: jax.Array, key: jax.Array, method: str = "dirichlet"
) -> list[Params | None]:
    """Apply `reset_w` to every params pytree in ``params_list`` (``None`` passes through).

    The same key is used for all of them, so the actor's and the critic's reset tasks get the same
    convex coefficients (with ``share_w`` their tables are equal and stay equal).
    """
    return [None if p is None else set_w(p, reset_w(get_w(p), valid, key, method)) for p in params_list]
