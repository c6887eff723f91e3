"""PEARL's context encoder and its posterior (Rakelly et al. 2019, Sec. 4.1, Eq. 4 and the product of
Gaussian factors of Fig. 2).

Shapes: ``C`` context transitions, ``D`` their feature size (``O + A + 1``, ``+ O`` with the next
observation), ``L`` latent_dim. Each transition c_n gives a Gaussian factor ``Psi(z | c_n) = N(mu_n,
diag(var_n))`` (an MLP; ``var_n = softplus(.)`` clipped below at 1e-7), and::

    q(z | c_1..C) ∝ prod_n Psi(z | c_n):  var = 1 / sum_n (1 / var_n),  mu = var * sum_n (mu_n / var_n)

over the transitions where ``mask`` is True; with none the posterior is the prior ``N(0, I)``. The same product
accumulated one transition at a time: natural parameters ``(sum_n 1 / var_n, sum_n mu_n / var_n)``,
`posterior_from_sums` (zero sums: the prior).
``kl_to_prior(mu, var) = 0.5 * sum_l (var + mu^2 - 1 - log var)``, the KL term of PEARL's Eq. 4.
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

__all__ = [
    "ContextEncoder",
    "Encoder",
    "context_features",
    "kl_to_prior",
    "make_encoder",
    "posterior_from_sums",
    "product_of_gaussians",
]

VAR_MIN = 1e-7


class ContextEncoder(nn.Module):
    """``apply(params, c (C, D)) -> (mu (C, L), var (C, L))``: one Gaussian factor per transition."""

    hidden: tuple[int, ...]
    latent_dim: int

    @nn.compact
    def __call__(self, c: jax.Array):
        chex.assert_rank(c, 2)
        x = c
        for i, w in enumerate(self.hidden):
            x = nn.relu(nn.Dense(w, name=f"hidden_{i}")(x))
        out = nn.Dense(2 * self.latent_dim, name="out")(x)
        mu, raw = jnp.split(out, 2, axis=-1)
        return mu, jnp.maximum(jax.nn.softplus(raw), VAR_MIN)


def context_features(obs, action, reward, next_obs=None) -> jax.Array:
    """``[obs, action, reward(, next_obs)]`` along the last axis: ``(..., D)``."""
    parts = [obs, action, reward[..., None]] + ([] if next_obs is None else [next_obs])
    return jnp.concatenate(parts, axis=-1)


def product_of_gaussians(mu: jax.Array, var: jax.Array, mask: jax.Array | None = None):
    """``(C, L), (C, L), (C,) bool -> (mu (L,), var (L,))`` (module docstring; prior without context)."""
    chex.assert_equal_shape([mu, var])
    m = jnp.ones(mu.shape[:1], bool) if mask is None else mask
    chex.assert_shape(m, mu.shape[:1])
    w = m[:, None].astype(mu.dtype)
    precision = jnp.sum(w / var, axis=0)
    any_ = jnp.any(m)
    post_var = jnp.where(any_, 1.0 / jnp.where(any_, precision, 1.0), 1.0)
    post_mu = jnp.where(any_, post_var * jnp.sum(w * mu / var, axis=0), 0.0)
    return post_mu, post_var


def posterior_from_sums(precision: jax.Array, weighted_mu: jax.Array):
    """``(..., L), (..., L) -> (mu, var)``: the product of the factors whose ``1 / var_n`` and ``mu_n / var_n``
    were summed; the prior ``N(0, I)`` where no factor was (precision 0)."""
    chex.assert_equal_shape([precision, weighted_mu])
    empty = precision <= 0.0
    var = jnp.where(empty, 1.0, 1.0 / jnp.where(empty, 1.0, precision))
    return jnp.where(empty, 0.0, var * weighted_mu), var


def kl_to_prior(mu: jax.Array, var: jax.Array) -> jax.Array:
    """``KL(N(mu, diag(var)) || N(0, I))`` summed over the last axis."""
    chex.assert_equal_shape([mu, var])
    return 0.5 * jnp.sum(var + mu**2 - 1.0 - jnp.log(var), axis=-1)


@struct.dataclass
class Encoder:
    """init(key) -> params; posterior(params, context (C, D), mask (C,)) -> (mu (L,), var (L,));
    factors(params, context (C, D)) -> (mu (C, L), var (C, L)): one Gaussian factor per transition."""

    init: Callable[[jax.Array], Any] = struct.field(pytree_node=False)
    posterior: Callable[..., tuple[jax.Array, jax.Array]] = struct.field(pytree_node=False)
    factors: Callable[..., tuple[jax.Array, jax.Array]] = struct.field(pytree_node=False)
    feature_dim: int = struct.field(pytree_node=False)
    latent_dim: int = struct.field(pytree_node=False)


def make_encoder(feature_dim: int, hidden: tuple[int, ...], latent_dim: int) -> Encoder:
    module = ContextEncoder(tuple(hidden), latent_dim)

    def posterior(params, context, mask=None):
        mu, var = module.apply(params, context)
        return product_of_gaussians(mu, var, mask)

    return Encoder(
        init=lambda key: module.init(key, jnp.zeros((1, feature_dim))),
        posterior=posterior,
        factors=module.apply,
        feature_dim=feature_dim,
        latent_dim=latent_dim,
    )
