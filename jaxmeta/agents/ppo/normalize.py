"""Running observation normalisation as a pure pytree state.

`RunningStats` holds the count, mean and sum of squared deviations (``m2``) of every sample seen so
far, per feature. `update` merges a batch into it with the parallel-variance formula (Chan, Golub &
LeVeque 1979; Welford's update for one sample is the special case ``n_b = 1``)::

    n = n_a + n_b,   d = mean_b - mean_a
    mean = mean_a + d * n_b / n
    m2   = m2_a + m2_b + d^2 * n_a * n_b / n

so running over batches gives the mean and (population) variance of their concatenation, whatever the
batch sizes, without storing samples. `normalize` maps ``x -> clip((x - mean) / sqrt(var + eps),
-clip, clip)`` with ``var = m2 / n``; before any sample (``n = 0``) it is the identity (then clipped).

All functions are pure and shape-polymorphic over the feature shape ``F`` (``(O,)`` for observations):
``update(state, batch (..., *F))`` treats every leading axis as samples. They work under `jax.jit`, and
`jax.vmap` over a stacked state gives independent statistics per slice (e.g. per skill). ``count`` is
float32 (exact up to 2^24 samples, then relative error ~1e-7 in the merge weights).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["RunningStats", "init", "normalize", "update", "variance"]


@struct.dataclass
class RunningStats:
    """count () f32, mean (*F) f32, m2 (*F) f32 (sum of squared deviations from the mean)."""

    count: jax.Array
    mean: jax.Array
    m2: jax.Array


def init(shape: int | tuple[int, ...], dtype=jnp.float32) -> RunningStats:
    """Empty statistics for features of ``shape`` (an int means ``(shape,)``)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return RunningStats(count=jnp.zeros((), dtype), mean=jnp.zeros(shape, dtype), m2=jnp.zeros(shape, dtype))


def update(state: RunningStats, batch: jax.Array) -> RunningStats:
    """Merge ``batch (..., *F)`` (all leading axes are samples; at least one sample) into ``state``."""
    feature_shape = state.mean.shape
    chex.assert_shape(state.m2, feature_shape)
    chex.assert_rank(state.count, 0)
    nd = len(feature_shape)
    if batch.ndim < nd + 1 or batch.shape[batch.ndim - nd :] != feature_shape:
        raise ValueError(f"normalize.update: batch shape {batch.shape} must be (..., *{feature_shape})")
    x = jnp.reshape(batch, (-1, *feature_shape)).astype(state.mean.dtype)
    n_b = jnp.asarray(x.shape[0], state.count.dtype)
    mean_b = jnp.mean(x, axis=0)
    m2_b = jnp.sum((x - mean_b) ** 2, axis=0)
    n = state.count + n_b
    delta = mean_b - state.mean
    mean = state.mean + delta * (n_b / n)
    m2 = state.m2 + m2_b + delta**2 * (state.count * n_b / n)
    return RunningStats(count=n, mean=mean, m2=m2)


def variance(state: RunningStats) -> jax.Array:
    """Population variance ``m2 / count`` (*F); 1 before any sample."""
    return jnp.where(state.count > 0, state.m2 / jnp.maximum(state.count, 1.0), 1.0)


def normalize(state: RunningStats, x: jax.Array, clip: float | None = 10.0, eps: float = 1e-8) -> jax.Array:
    """``clip((x - mean) / sqrt(var + eps), -clip, clip)`` for ``x (..., *F)``; ``clip=None``: no clipping."""
    nd = state.mean.ndim
    if x.ndim < nd or x.shape[x.ndim - nd :] != state.mean.shape:
        raise ValueError(f"normalize.normalize: x shape {x.shape} must be (..., *{state.mean.shape})")
    mean = jnp.where(state.count > 0, state.mean, 0.0)
    out = (x - mean) / jnp.sqrt(variance(state) + eps)
    return out if clip is None else jnp.clip(out, -clip, clip)
