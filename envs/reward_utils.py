"""Meta-World's v2 reward building blocks (dm_control's `tolerance`, Hamacher product) in jnp.

Elementwise, differentiable where the reference is, and jit/vmap friendly: margins may be traced
values (Meta-World computes most of them from reset-time positions), so the `margin == 0` branch of
the reference is a `jnp.where`, not Python control flow.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

_DEFAULT_VALUE_AT_MARGIN = 0.1


def _sigmoid(x, value_at_1: float, sigmoid: str):
    """Maps distance-in-margins `x >= 0` to (0, 1]; 1 at x = 0, `value_at_1` at x = 1."""
    if sigmoid == "gaussian":
        scale = math.sqrt(-2.0 * math.log(value_at_1))
        return jnp.exp(-0.5 * (x * scale) ** 2)
    if sigmoid == "hyperbolic":
        scale = math.acosh(1.0 / value_at_1)
        return 1.0 / jnp.cosh(x * scale)
    if sigmoid == "long_tail":
        scale = math.sqrt(1.0 / value_at_1 - 1.0)
        return 1.0 / ((x * scale) ** 2 + 1.0)
    if sigmoid == "reciprocal":
        scale = 1.0 / value_at_1 - 1.0
        return 1.0 / (jnp.abs(x) * scale + 1.0)
    if sigmoid == "cosine":
        scale = math.acos(2.0 * value_at_1 - 1.0) / math.pi
        sx = x * scale
        return jnp.where(jnp.abs(sx) < 1.0, (1.0 + jnp.cos(jnp.pi * sx)) / 2.0, 0.0)
    if sigmoid == "linear":
        sx = x * (1.0 - value_at_1)
        return jnp.where(jnp.abs(sx) < 1.0, 1.0 - sx, 0.0)
    if sigmoid == "quadratic":
        sx = x * math.sqrt(1.0 - value_at_1)
        return jnp.where(jnp.abs(sx) < 1.0, 1.0 - sx**2, 0.0)
    if sigmoid == "tanh_squared":
        scale = math.atanh(math.sqrt(1.0 - value_at_1))
        return 1.0 - jnp.tanh(x * scale) ** 2
    raise ValueError(f"Unknown sigmoid type {sigmoid!r}.")


def tolerance(x, bounds=(0.0, 0.0), margin=0.0, sigmoid="gaussian", value_at_margin=_DEFAULT_VALUE_AT_MARGIN):
    """1 inside `bounds`, decaying with the distance to the nearest bound in units of `margin`.

    `bounds` are Python floats (static); `x` and `margin` may be traced arrays of any shape.
    margin == 0 gives a hard indicator, as in the reference.
    """
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"Lower bound must be <= upper bound, got {bounds}.")
    if sigmoid in ("cosine", "linear", "quadratic"):
        if not 0.0 <= value_at_margin < 1.0:
            raise ValueError(f"value_at_margin must be in [0, 1), got {value_at_margin}.")
    elif not 0.0 < value_at_margin < 1.0:
        raise ValueError(f"value_at_margin must be in (0, 1), got {value_at_margin}.")
    x = jnp.asarray(x)
    margin = jnp.asarray(margin, dtype=x.dtype)
    in_bounds = jnp.logical_and(lower <= x, x <= upper)
    safe_margin = jnp.where(margin == 0, 1.0, margin)
    d = jnp.where(x < lower, lower - x, x - upper) / safe_margin
    soft = jnp.where(in_bounds, 1.0, _sigmoid(d, value_at_margin, sigmoid))
    hard = jnp.where(in_bounds, 1.0, 0.0)
    return jnp.where(margin == 0, hard, soft).astype(x.dtype)


def inverse_tolerance(x, bounds=(0.0, 0.0), margin=0.0, sigmoid="reciprocal"):
    """0 inside `bounds`, rising towards 1 outside (reference passes value_at_margin=0)."""
    x = jnp.asarray(x)
    lower, upper = bounds
    in_bounds = jnp.logical_and(lower <= x, x <= upper)
    margin = jnp.asarray(margin, dtype=x.dtype)
    # value_at_margin=0 is only legal for cosine/linear/quadratic; the reference default (reciprocal)
    # would raise there unless margin == 0, in which case the result is the hard indicator.
    if sigmoid in ("cosine", "linear", "quadratic"):
        return 1.0 - tolerance(x, bounds, margin, sigmoid, value_at_margin=0.0)
    return jnp.where(in_bounds, 0.0, 1.0).astype(x.dtype)


def hamacher_product(a, b):
    """Hamacher t-norm a*b / (a + b - a*b), 0 where the denominator is 0. Inputs in [0, 1]."""
    a = jnp.asarray(a)
    b = jnp.asarray(b)
    den = a + b - a * b
    return jnp.where(den > 0, a * b / jnp.where(den > 0, den, 1.0), 0.0)
