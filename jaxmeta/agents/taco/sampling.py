"""TaCo task sampling (paper 002 Sec. IV-A): the task distribution ``p (T,)`` and batches drawn from it.

Shapes: ``T`` num_skills, ``B`` batch, ``D`` flattened task parameters, ``K`` num_param_sets.

- `task_probabilities(scheme, T, ...) -> (T,) float64` summing to 1: ``"uniform"`` ``1/T``;
  ``"grouped"`` ``p_t = 1 / (|G| |g_i|)`` for ``t in g_i`` (``groups`` a partition of ``range(T)``);
  ``"weighted"`` ``weights / sum(weights)``. `taco_mt10_weights`: the MT10 preset doubles pick-place,
  peg-insert-side and drawer-open (paper Table II, `TACO_MT10_DOUBLED`; the official config's own unused
  example, ``[0.1]*10`` with pick-place at 0.3, is different).
- Drawing skill ids (pure JAX, jit-able, ``p`` may be traced): `sample_tasks` (iid, ``(n,) int32``) and
  `allocate_tasks` (stratified batch composition, ``(B,) int32`` sorted by task, ``|count_t - B p_t| < 1``).
- TaCo-online grouping, off the hot path (host, numpy / scikit-learn): `task_parameters` (``theta_t =
  Phi w_t`` of PaCo params, ``(T, D)``), `group_tasks_dbscan` (DBSCAN, noise tasks become singletons),
  `taco_online_probabilities` (groups + group-balanced ``p``) and `online_groups` (the same with a
  scale-free eps: ``eps_rel`` x the median pairwise distance of the thetas).
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.agents.paco.reset import get_w

__all__ = [
    "TACO_MT10_DOUBLED",
    "TASK_SCHEMES",
    "allocate_tasks",
    "group_tasks_dbscan",
    "online_groups",
    "sample_tasks",
    "taco_mt10_weights",
    "taco_online_probabilities",
    "task_parameters",
    "task_probabilities",
]

Params = Any

TASK_SCHEMES = ("uniform", "grouped", "weighted")
TACO_MT10_DOUBLED = ("pick-place", "peg-insert-side", "drawer-open")  # paper 002, Sec. V-A


def _validate_groups(groups: Sequence[Sequence[int]], num_skills: int) -> list[list[int]]:
    groups = [list(map(int, g)) for g in groups]
    if any(len(g) == 0 for g in groups):
        raise ValueError(f"task groups must be non-empty, got {groups!r}")
    flat = sorted(t for g in groups for t in g)
    if flat != list(range(num_skills)):
        raise ValueError(f"task groups must partition range({num_skills}) (each task exactly once), got {groups!r}")
    return groups


def task_probabilities(
    scheme: str,
    num_skills: int,
    groups: Sequence[Sequence[int]] | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Task sampling distribution ``(T,) float64``, summing to 1.

    ``"uniform"``: ``1/T``. ``"grouped"``: ``p_t = 1 / (|G| |g_i|)`` for ``t in g_i`` (``groups`` a
    partition of ``range(T)``). ``"weighted"``: ``weights / sum(weights)`` (non-negative, not all 0).
    """
    if not isinstance(num_skills, int) or num_skills < 1:
        raise ValueError(f"num_skills must be a positive int, got {num_skills!r}")
    if scheme == "uniform":
        return np.full(num_skills, 1.0 / num_skills)
    if scheme == "grouped":
        if groups is None:
            raise ValueError("scheme 'grouped' needs groups")
        groups = _validate_groups(groups, num_skills)
        p = np.zeros(num_skills)
        for g in groups:
            p[g] = 1.0 / (len(groups) * len(g))
        return p
    if scheme == "weighted":
        if weights is None:
            raise ValueError("scheme 'weighted' needs weights")
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (num_skills,):
            raise ValueError(f"weights must have shape ({num_skills},), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()!r}")
        return w / w.sum()
    raise ValueError(f"scheme must be one of {TASK_SCHEMES}, got {scheme!r}")


def _skill_base(name: str) -> str:
    return re.sub(r"-v\d+$", "", name.strip().lower())


def taco_mt10_weights(
    skill_names: Sequence[str], doubled: Sequence[str] = TACO_MT10_DOUBLED, factor: float = 2.0
) -> np.ndarray:
    """TaCo's MT10 preset: weight ``factor`` for the ``doubled`` skills (version suffix ignored), 1 else.

    Use with ``task_probabilities("weighted", len(skill_names), weights=...)``.
    """
    bases = [_skill_base(s) for s in skill_names]
    missing = [d for d in doubled if _skill_base(d) not in bases]
    if missing:
        raise ValueError(f"skills {missing!r} not found in {list(skill_names)!r}")
    targets = {_skill_base(d) for d in doubled}
    return np.array([factor if b in targets else 1.0 for b in bases])


def sample_tasks(key: jax.Array, probs: jax.Array, n: int) -> jax.Array:
    """``n`` skill ids ``(n,) int32`` drawn iid from ``probs (T,)`` (pure JAX, jit-able)."""
    probs = jnp.asarray(probs, jnp.float32)
    logits = jnp.where(probs > 0, jnp.log(jnp.where(probs > 0, probs, 1.0)), -jnp.inf)
    return jax.random.categorical(key, logits, shape=(n,)).astype(jnp.int32)


def group_tasks_dbscan(
    theta: np.ndarray, eps: float, min_samples: int = 2, metric: str = "euclidean"
) -> list[list[int]]:
    """TaCo-online grouping: DBSCAN on task parameters ``theta (T, D)``; noise tasks become singletons.

    Returns a partition of ``range(T)``: clusters in order of their smallest skill id.
    """
    from sklearn.cluster import DBSCAN

    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 2:
        raise ValueError(f"theta must be (T, D), got shape {theta.shape}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    labels = DBSCAN(eps=eps, min_samples=min_samples, metric=metric).fit_predict(theta)
    groups: dict[int, list[int]] = {}
    singles = []
    for t, lab in enumerate(labels):
        if lab < 0:
            singles.append([t])
        else:
            groups.setdefault(int(lab), []).append(t)
    return sorted(list(groups.values()) + singles, key=lambda g: g[0])


def task_parameters(params: Params) -> np.ndarray:
    """``theta_t = Phi w_t`` for every task, flattened over all compositional kernels/biases: ``(T, D)``.

    Works for actor params (``D`` = all actor parameters) and critic params (critic ensemble included).
    """
    w = np.asarray(get_w(params))  # (T, K)
    k = w.shape[1]
    cols = []

    def visit(path, leaf):
        names = [str(getattr(p, "key", "")) for p in path]
        layer = names[-2] if len(names) >= 2 else ""
        if names[-1] not in ("kernel", "bias") or not (layer == "head" or layer.startswith("layer_")):
            return  # w itself, or the non-compositional ``shared_head``
        arr = np.asarray(leaf)
        # stacked sets: K is the axis just before (in, out) for kernels / (out,) for biases; a leading
        # critic-ensemble axis (E, ...) is kept inside the flattened parameter vector
        set_axis = arr.ndim - (3 if names[-1] == "kernel" else 2)
        moved = np.moveaxis(arr, set_axis, 0).reshape(k, -1)  # (K, n)
        cols.append(w @ moved)

    jax.tree_util.tree_map_with_path(visit, params)
    if not cols:
        raise ValueError("no compositional parameters found")
    return np.concatenate(cols, axis=1)


def taco_online_probabilities(
    theta: np.ndarray, eps: float, min_samples: int = 2
) -> tuple[list[list[int]], np.ndarray]:
    """TaCo-online: DBSCAN groups of ``theta (T, D)`` and the group-balanced probabilities."""
    groups = group_tasks_dbscan(theta, eps, min_samples)
    return groups, task_probabilities("grouped", theta.shape[0], groups=groups)


def allocate_tasks(key: jax.Array, probs: jax.Array, batch_size: int, available: jax.Array | None = None) -> jax.Array:
    """TaCo batch composition: ``batch_size`` skill ids ``(B,) int32`` (sorted by task) with
    ``E[count_t] = B p_t`` exactly and ``|count_t - B p_t| < 1`` (stratified: ``floor(B p_t)`` each, the
    remaining ``R`` slots by systematic sampling over the fractional parts). Pure JAX, jit-able, ``probs``
    may be traced (the compiled program is reused when the distribution changes).

    ``available (T,) bool`` (optional): tasks that can be drawn (e.g. ``skill_counts > 0``); ``probs`` is
    renormalised over them (uniform over them if they all have probability 0). With uniform ``probs``
    and ``T | B`` every task gets exactly ``B / T`` samples (PaCo's structured fast path applies).
    """
    p = jnp.maximum(jnp.asarray(probs, jnp.float32), 0.0)
    chex.assert_rank(p, 1)
    avail = jnp.ones(p.shape, bool) if available is None else jnp.asarray(available, bool)
    p = jnp.where(avail, p, 0.0)
    total = jnp.sum(p)
    uniform = avail.astype(jnp.float32) / jnp.maximum(jnp.sum(avail.astype(jnp.float32)), 1.0)
    p = jnp.where(total > 0, p / jnp.where(total > 0, total, 1.0), uniform)
    expected = batch_size * p
    base = jnp.floor(expected)
    rem = jnp.int32(batch_size) - jnp.sum(base).astype(jnp.int32)  # R in [0, T)
    frac = expected - base
    edges = jnp.cumsum(frac)
    edges = edges.at[-1].set(rem.astype(jnp.float32))  # exact total despite rounding
    u = jax.random.uniform(key, (), jnp.float32)
    # number of positions u + k (k = 0..R-1) below each edge
    below = jnp.clip(jnp.ceil(edges - u), 0, rem).astype(jnp.int32)
    extra = jnp.diff(below, prepend=jnp.zeros((1,), jnp.int32))
    counts = base.astype(jnp.int32) + extra
    ends = jnp.cumsum(counts)
    return jnp.searchsorted(ends, jnp.arange(batch_size, dtype=jnp.int32), side="right").astype(jnp.int32)


def online_groups(theta: np.ndarray, eps_rel: float, min_samples: int) -> tuple[list[list[int]], np.ndarray]:
    """TaCo-online grouping with a scale-free eps: DBSCAN on ``theta (T, D)`` with
    ``eps = eps_rel * median pairwise distance``; all tasks in one group if the thetas coincide."""
    theta = np.asarray(theta, np.float64)
    t = theta.shape[0]
    if t == 1:
        return [[0]], np.ones(1)
    sq = np.sum(theta**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * theta @ theta.T, 0.0)
    med = float(np.median(np.sqrt(d2[np.triu_indices(t, 1)])))
    if not med > 0 or not math.isfinite(med):
        return [list(range(t))], np.full(t, 1.0 / t)
    return taco_online_probabilities(theta, eps_rel * med, min_samples)
