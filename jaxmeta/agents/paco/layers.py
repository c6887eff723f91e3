"""Compositional layers of PaCo (paper 002, Sun et al. NeurIPS 2022, Eqn. 1): ``theta_t = Phi w_t``.

Every trainable layer holds ``K`` parameter sets ``Phi = (Phi_1 .. Phi_K)``: ``kernel (K, in, out)`` and
``bias (K, out)``; task ``t``'s layer is ``sum_k w_tk Phi_k`` with ``w_t (K,)`` its compositional vector,
a row of the ``w_table (T, K)`` that the caller passes in (the networks own it: `jaxmeta.agents.paco.
networks`). Shapes: ``B`` batch, ``T`` num_skills, ``K`` num_param_sets.

Ways to evaluate a batch that mixes tasks (``mix_mode``, `MIX_MODES`; all equal up to float rounding):

* ``"outputs"`` (a): the K outputs ``x @ Phi_k + b_k`` with one matmul, then mix with each sample's
  ``w`` -- ``O(B in out K)`` flops, no per-sample weights. This is what the official code does
  (ALF ``CompositionalFC``: ``bmm`` over the K sets, then ``comp_weight @ y``).
* ``"weights"`` (b): mix the weights per skill, ``theta_t = sum_k w_tk Phi_k`` (``(T, in, out)``),
  evaluate every sample under every task's weights and keep its own task -- ``O(B in out T)``.
* ``"weights_per_sample"`` (b'): gather ``theta_{task(b)}`` per sample (``(B, in, out)`` in memory)
  and do a batched mat-vec -- fewest flops but memory bound.
* ``"structured"`` (default; (b) done right): if every task has exactly ``B / T`` samples (the
  ``balanced`` replay sampler, an env batch with N instances per skill), sort the batch by task once
  per network, run every layer as one batched matmul over tasks with per-skill mixed weights
  (``O(B in out + T K in out)``), unsort; any other batch runs "outputs". Chosen at run time by a
  ``lax.cond`` (`structured_apply`); both branches are compiled. Use balanced replay with ``B % T == 0``
  to get the fast path. Timings of the modes: docs/throughput.md ("PaCo mix modes").

Initialisation (as ALF does; checked against github TToTMooN/paco-mtrl, not copied): variance scaling
per set (fan-in of one set, not of the stacked array), He (truncated normal, scale 2) for hidden layers,
LeCun normal for the output heads, biases 0; ``identical_init`` draws one set and repeats it K times
(official ``use_identical_init=True``). The ``(T, K)`` w table: `w_initializer` (``"fan_in"``: truncated
normal, std ``1/sqrt(T)``, the kernel of a bias-free FC layer on the task one-hot -- a guess, the ALF
``TaskEncodingNetwork`` source is not public; ``"mean"``: ``w_t = 1/K``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxmeta import networks as _networks

__all__ = [
    "MIX_MODES",
    "W_INITS",
    "CompositionalDense",
    "CompositionalParams",
    "PaCoMLP",
    "compositional_matmul",
    "he_truncated_normal",
    "lecun_truncated_normal",
    "set_variance_scaling",
    "structured_apply",
    "w_initializer",
]

MIX_MODES = ("structured", "outputs", "weights", "weights_per_sample")
W_INITS = ("fan_in", "mean")


def _per_set_init(base: Callable, identical: bool) -> Callable:
    """Initializer for a stacked ``(K, ...)`` parameter set array.

    ``base(key, shape, dtype)`` must treat the leading axis of ``shape`` as a batch of independent sets
    (as `set_variance_scaling` does). ``identical=True`` draws one set and repeats it K times.
    """

    def init(key, shape, dtype=jnp.float32):
        if identical:
            one = base(key, (1,) + tuple(shape[1:]), dtype)
            return jnp.broadcast_to(one, shape).astype(dtype)
        return base(key, shape, dtype)

    return init


def set_variance_scaling(scale: float) -> Callable:
    """Truncated-normal variance scaling for ``(K, in, out)`` kernels with the fan-in of ONE set
    (``in``): std ``sqrt(scale / in)``, truncated at 2 std (one RNG call for all K sets)."""

    def init(key, shape, dtype=jnp.float32):
        std = math.sqrt(scale / shape[-2]) / 0.87962566103423978  # std of N(0,1) truncated to [-2, 2]
        return (std * jax.random.truncated_normal(key, -2.0, 2.0, shape, jnp.float32)).astype(dtype)

    return init


def he_truncated_normal() -> Callable:
    """ALF's default for ReLU layers: variance scaling, scale 2, fan-in (of one set), truncated normal."""
    return set_variance_scaling(2.0)


def lecun_truncated_normal() -> Callable:
    """Variance scaling, scale 1, fan-in (of one set), truncated normal (output heads)."""
    return set_variance_scaling(1.0)


def w_initializer(name: str) -> Callable:
    """Initializer for the ``(T, K)`` compositional-vector table (see module docstring)."""
    if name == "fan_in":
        # kernel of FC(T -> K) on one-hot input with fan-in T: std 1/sqrt(T), truncated at 2 std
        def init(key, shape, dtype=jnp.float32):
            return nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=0, out_axis=1)(
                key, shape, dtype
            )

        return init
    if name == "mean":
        return lambda key, shape, dtype=jnp.float32: jnp.full(shape, 1.0 / shape[1], dtype)
    raise ValueError(f"w_init must be one of {W_INITS}, got {name!r}")


def _blocked_matmul(x, kernel, bias, w_table):
    """Task-sorted equal blocks: rows ``[t n, (t+1) n)`` of ``x`` all belong to task ``t`` (unchecked).

    One batched matmul over tasks with ``theta_t = sum_k w_tk Phi_k``: ``O(B in out + T K in out)``.
    """
    t = w_table.shape[0]
    b = x.shape[0]
    theta = jnp.einsum("tk,kio->tio", w_table, kernel)  # (T, in, out)
    y = jnp.einsum("tni,tio->tno", x.reshape(t, b // t, -1), theta)
    if bias is not None:
        y = y + (w_table @ bias)[:, None]
    return y.reshape(b, -1)


def compositional_matmul(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None,
    w_table: jax.Array,
    skill_id: jax.Array,
    mix_mode: str = "structured",
) -> jax.Array:
    """``y_b = x_b @ (sum_k w_{t(b),k} Phi_k) + sum_k w_{t(b),k} b_k``.

    x (B, in), kernel (K, in, out), bias (K, out) or None, w_table (T, K), skill_id (B,) -> (B, out).
    ``mix_mode``: one of `MIX_MODES` (see the module docstring), or ``"sorted_blocks"`` (internal: the
    caller guarantees ``skill_id == repeat(arange(T), B // T)``; used by `structured_apply`).
    """
    chex.assert_rank([x, kernel, w_table, skill_id], [2, 3, 2, 1])
    if mix_mode == "structured":
        return structured_apply(
            lambda x_, tid_, mode: compositional_matmul(x_, kernel, bias, w_table, tid_, mode),
            x,
            skill_id,
            w_table.shape[0],
        )
    if mix_mode == "sorted_blocks":
        return _blocked_matmul(x, kernel, bias, w_table)
    if mix_mode == "outputs":
        w = w_table[skill_id]  # (B, K)
        y = jnp.einsum("bi,kio->bko", x, kernel)
        if bias is not None:
            y = y + bias
        return jnp.einsum("bko,bk->bo", y, w)
    if mix_mode == "weights":
        theta = jnp.einsum("tk,kio->tio", w_table, kernel)  # (T, in, out)
        y = jnp.einsum("bi,tio->bto", x, theta)
        if bias is not None:
            y = y + (w_table @ bias)[None]  # (T, out)
        return jnp.take_along_axis(y, skill_id[:, None, None], axis=1)[:, 0]
    if mix_mode == "weights_per_sample":
        theta = jnp.einsum("tk,kio->tio", w_table, kernel)[skill_id]  # (B, in, out)
        y = jnp.einsum("bi,bio->bo", x, theta)
        if bias is not None:
            y = y + (w_table @ bias)[skill_id]
        return y
    raise ValueError(f"mix_mode must be one of {MIX_MODES}, got {mix_mode!r}")


def structured_apply(fn: Callable, x: jax.Array, skill_id: jax.Array, num_skills: int) -> jax.Array:
    """Run ``fn(x, skill_id, mode) -> (B, ...)`` on the fastest correct path, chosen at run time.

    If every task has exactly ``n = B / T`` samples (e.g. `jaxmeta.replay`'s ``balanced`` sampler once all
    tasks have data, or an env batch with the same number of instances per skill), the batch is sorted by
    task (stable argsort), ``fn`` runs in ``"sorted_blocks"`` mode (one batched matmul over tasks per
    layer, about K times fewer flops than "outputs") and the rows are put back in their original order.
    Otherwise (or if ``T`` does not divide ``B``) ``fn`` runs in ``"outputs"`` mode. Both branches are
    compiled (``lax.cond`` on an unbatched predicate); results do not depend on the branch taken, up to
    float rounding. Under an outer ``jax.vmap`` that batches ``skill_id`` the cond becomes a select and
    both branches run -- use "outputs" there.
    """
    b = x.shape[0]
    if b % num_skills != 0:
        return fn(x, skill_id, "outputs")
    counts = jax.ops.segment_sum(jnp.ones_like(skill_id), skill_id, num_segments=num_skills)
    equal = jnp.all(counts == b // num_skills)

    def fast(x, skill_id):
        order = jnp.argsort(skill_id, stable=True)
        inverse = jnp.zeros_like(order).at[order].set(jnp.arange(b, dtype=order.dtype))
        return fn(x[order], skill_id[order], "sorted_blocks")[inverse]

    def general(x, skill_id):
        return fn(x, skill_id, "outputs")

    return jax.lax.cond(equal, fast, general, x, skill_id)


def _declare_sets(module: nn.Module, in_dim: int) -> tuple[jax.Array, jax.Array | None]:
    """``kernel (K, in, features)`` and ``bias (K, features)`` params of a compositional layer module."""
    kernel = module.param(
        "kernel",
        _per_set_init(module.kernel_init, module.identical_init),
        (module.num_param_sets, in_dim, module.features),
    )
    bias = None
    if module.use_bias:
        bias = module.param(
            "bias", _per_set_init(module.bias_init, module.identical_init), (module.num_param_sets, module.features)
        )
    return kernel, bias


class CompositionalParams(nn.Module):
    """Declares the K parameter sets of one layer: ``kernel (K, in, features)``, ``bias (K, features)``."""

    features: int
    num_param_sets: int
    identical_init: bool = True
    use_bias: bool = True
    kernel_init: Callable = dataclasses.field(default_factory=he_truncated_normal)
    bias_init: Callable = nn.initializers.zeros

    @nn.compact
    def __call__(self, in_dim: int) -> tuple[jax.Array, jax.Array | None]:
        return _declare_sets(self, in_dim)


class CompositionalDense(nn.Module):
    """Dense layer with K parameter sets. ``(x (B,in), w_table (T,K), skill_id (B,)) -> (B, features)``.

    Params: ``kernel (K, in, features)``, ``bias (K, features)``. (`PaCoMLP` does not stack these: it
    declares the same parameters and runs the whole MLP inside one `structured_apply`.)
    """

    features: int
    num_param_sets: int
    mix_mode: str = "structured"
    identical_init: bool = True
    use_bias: bool = True
    kernel_init: Callable = dataclasses.field(default_factory=he_truncated_normal)
    bias_init: Callable = nn.initializers.zeros

    @nn.compact
    def __call__(self, x: jax.Array, w_table: jax.Array, skill_id: jax.Array) -> jax.Array:
        chex.assert_shape(w_table, (None, self.num_param_sets))
        kernel, bias = _declare_sets(self, x.shape[-1])
        return compositional_matmul(x, kernel, bias, w_table, skill_id, self.mix_mode)


class PaCoMLP(nn.Module):
    """Compositional MLP ``layer_0..layer_{n-1}`` + ``head``; w_table is an input, not a parameter.

    ``(x (B,D), w_table (T,K), skill_id (B,)) -> (B, out_dim)``. With ``mix_mode="structured"`` the
    layout check / sort happens once for the whole MLP (`structured_apply`), not per layer.
    """

    hidden: tuple[int, ...]
    out_dim: int
    num_param_sets: int
    mix_mode: str = "structured"
    identical_init: bool = True
    activation: str = "relu"
    compositional_head: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, w_table: jax.Array, skill_id: jax.Array) -> jax.Array:
        chex.assert_shape(w_table, (None, self.num_param_sets))
        act = _networks.ACTIVATIONS[self.activation]
        layers, in_dim = [], x.shape[-1]
        for i, width in enumerate(self.hidden):
            layers.append(
                CompositionalParams(width, self.num_param_sets, self.identical_init, name=f"layer_{i}")(in_dim)
            )
            in_dim = width
        if self.compositional_head:
            layers.append(
                CompositionalParams(
                    self.out_dim,
                    self.num_param_sets,
                    self.identical_init,
                    kernel_init=lecun_truncated_normal(),
                    name="head",
                )(in_dim)
            )
            shared_head = None
        else:
            shared_head = nn.Dense(self.out_dim, name="shared_head")

        def forward(h, tid, mode):
            for i, (kernel, bias) in enumerate(layers):
                h = compositional_matmul(h, kernel, bias, w_table, tid, mode)
                if i < len(self.hidden):
                    h = act(h)
            return h

        if self.mix_mode == "structured":
            h = structured_apply(forward, x, skill_id, w_table.shape[0])
        else:
            h = forward(x, skill_id, self.mix_mode)
        return h if shared_head is None else shared_head(h)
