"""PaCo / TaCo: parameter-compositional multi-task SAC (paper 002; Sun et al., NeurIPS 2022).

Every trainable layer of the actor and of each critic holds ``K`` parameter sets ``Phi`` and a task's
parameters are the linear combination ``theta_t = Phi w_t`` (Eqn. 1), with ``w_t (K,)`` a learned
embedding of the task id (the compositional vector). Shapes: ``B`` batch, ``T`` num_tasks, ``K``
num_param_sets, ``O`` obs_dim, ``A`` action_dim.

Contents
--------
- `CompositionalDense`: a dense layer with ``kernel (K, in, out)`` and ``bias (K, out)``; ways to
  evaluate a batch that mixes tasks (``mix_mode``, all equal up to float rounding):

  * ``"outputs"`` (a): the K outputs ``x @ Phi_k + b_k`` with one matmul, then mix with each sample's
    ``w`` -- ``O(B in out K)`` flops, no per-sample weights. This is what the official code does
    (ALF ``CompositionalFC``: ``bmm`` over the K sets, then ``comp_weight @ y``).
  * ``"weights"`` (b): mix the weights per task, ``theta_t = sum_k w_tk Phi_k`` (``(T, in, out)``),
    evaluate every sample under every task's weights and keep its own task -- ``O(B in out T)``.
  * ``"weights_per_sample"`` (b'): gather ``theta_{task(b)}`` per sample (``(B, in, out)`` in memory)
    and do a batched mat-vec -- fewest flops but memory bound (800 MB per 400x400 layer at B = 1280).
  * ``"structured"`` (default; (b) done right): if every task has exactly ``B / T`` samples (the
    ``balanced`` replay sampler, an env batch with N instances per skill), sort the batch by task once
    per network, run every layer as one batched matmul over tasks with per-task mixed weights
    (``O(B in out + T K in out)``), unsort; any other batch runs "outputs". Chosen at run time by a
    ``lax.cond`` (`structured_apply`); costs ~2x compile time (both branches are compiled).

  Measured with ``experiments/bench_paco.py`` on this project's 2-core CPU (shared, load ~10; medians
  of 5 interleaved rounds), B=1280, 3x400, K=5, T=10. One 400x400 layer, forward+backward: "outputs"
  172 ms, "weights" 338 ms, "weights_per_sample" 3.7 s, "structured" 38 ms on a balanced batch (180 ms
  on a random one = "outputs"). Full jitted SAC update: MT-SAC (one-hot) 288 ms; PaCo "structured" 725
  ms on a balanced batch (2.5x MT-SAC), "outputs" 1978 ms (6.9x), "weights" 3433 ms (11.9x). Use
  balanced replay with ``B % T == 0`` (e.g. B=1250 or 1300 for MT50) to get the fast path.

- `PaCoConfig`, `make_paco_networks(cfg)`: a `jaxmeta.networks.Networks` (tanh-Gaussian actor, twin-Q
  critic ``(2, B)``), so `jaxmeta.sac.make_sac` works unchanged.
- Mask-out and w-reset as pure functions: `per_task_mean`, `loss_mask`, `sample_mask_from_tasks`,
  `reset_w`, `get_w` / `set_w`, counters `ResetCounters` / `update_counters`, and
  `sync_shared_w` / `reset_params_w` to apply them to actor / critic / target-critic params.
- `make_paco_sac(sac_config, cfg)`: `sac.make_sac` + mask-out + w-reset + shared-w sync as one pure
  ``update(state, batch, key, weights=None, mask=None)`` over a `PaCoState` (SAC state + counters).
  Needed for ``share_w=True``, mask-out and reset; plain ``sac.make_sac(cfg, make_paco_networks(cfg))``
  trains PaCo networks with two independent w tables and no mask-out / reset.
- TaCo task sampling: `task_probabilities`, `taco_mt10_weights`, `sample_tasks`, `group_tasks_dbscan`,
  `task_parameters`, `taco_online_probabilities`.

Faithfulness to the official implementation (github TToTMooN/paco-mtrl, ALF-based; checked, not copied)
--------------------------------------------------------------------------------------------------
- K = 5 and the loss threshold 3e3 (Table VII); ``use_identical_init=True`` in the official MT10 config:
  the K sets of every layer start equal (`PaCoConfig.identical_init`). Symmetry between the sets is
  then broken only by ``w`` being random, so ``identical_init`` with a constant ``w_init`` is rejected.
- One compositional vector table shared by actor, both critics and the target critic (the official code
  builds one ``TaskEncodingNetwork`` and passes the same module to the actor and the critic networks, and
  trains it with its own optimizer, ``task_optimizer`` (Adam, lr 3e-4), on the sum of actor + critic +
  alpha losses). Our `sac.update` keeps separate actor / critic params and optimizers, so with
  ``share_w=True`` each of actor and critic holds a copy of ``w`` that is moved by its own Adam (actor
  loss resp. critic loss) and `sync_shared_w` merges them after each update:
  ``w <- w + (w_actor' - w) + (w_critic' - w)`` (both losses move w, as in the official gradient flow,
  but with per-loss Adam normalisation -- the one deviation), and writes the result to actor, critic and
  target critic (our reading of the official code: the target critic is a copy of the critic network,
  which references the same task-encoding module, so it uses the live w -- not verifiable without the
  ALF fork's ``Network.copy``). ``share_w=False`` gives the actor and the critic their
  own ``w`` (as the JAX re-implementation in ``metaworld-algorithms`` does); the target critic's w is then
  Polyak-averaged like every other critic parameter.
- ``w`` initialisation (a guess; the ALF ``TaskEncodingNetwork`` source is not in the public repo): the
  official ``w`` is the kernel of a bias-free FC layer applied to the task one-hot with ALF's default
  variance-scaling init, i.e. ``w_tk ~ truncated normal, std 1/sqrt(T)`` (``w_init="fan_in"``, default).
  ``w_init="mean"`` starts every task at ``w_t = 1/K`` (only allowed with ``identical_init=False``).
- Parameter-set kernels: variance scaling per set (fan-in of one set, not of the stacked array), He
  (truncated normal, scale 2) for hidden layers as ALF does for ReLU layers, LeCun normal for the output
  heads; biases 0. The output heads are compositional too (official ``share_action_projection=False``);
  ``compositional_head=False`` uses one shared dense head instead.
- Actor: ``log_std`` clipped to ``[-10, 2]`` (official ``clipped_exp(-10, 2)``), tanh-squashed Gaussian.
- Mask-out: the official code averages the *total* per-sample loss (actor + critic over both replicas +
  alpha) over each task's samples in the batch; tasks above the threshold have their samples' losses
  zeroed for that same update, then (``reset_task_while_extreme``) their ``w`` is re-initialised *after*
  the update. Our threshold sees the critic term only (`extreme_task_loss`: ALF's actor-loss value is
  ``0.5|dQ/da|^2 + alpha log pi``, while sac.py's is ``alpha log pi - Q``, whose ``-Q`` would hide an
  explosion). ``mask_timing="exact"`` (default) reproduces the same-update masking with one extra forward
  pass of the critic loss; ``"lagged"`` skips it and lets an exploding batch through once before the
  reset. We also treat non-finite per-task losses as invalid (the official ``>`` comparison lets NaN
  through); tasks absent from the batch have loss 0 and are valid.
- w-reset: Eqn. (3), ``w_eta = sum_{j in V} beta_j w_j`` with ``beta`` uniform on the simplex
  (Dirichlet(1), ``method="dirichlet"``, default, as the paper says). The official code draws
  ``beta = u / |u|_1`` with ``u ~ U[0,1)^|V|`` (``method="normalized_uniform"``, not uniform on the
  simplex) and also offers ``"copy"`` (w of one random valid task). Each reset task gets its own beta.
  If no task is valid we leave ``w`` unchanged (the official code would set it to 0). The optimizer's
  Adam moments for a reset ``w`` are NOT reset (the official code overwrites the weight in place and
  leaves the optimizer state alone); counters of masked tasks and resets per task are kept (official
  ``_extreme_task_count``).
- TaCo task sampling (paper 002 Sec. IV-A): uniform, grouped (``p_t = 1 / (|G| |g_i|)``), explicit
  weights; the MT10 preset doubles pick-place, peg-insert-side and drawer-open (paper Table II; the
  official config's own unused example, ``[0.1]*10`` with pick-place at 0.3, is different). Online
  grouping (TaCo-online) clusters ``theta_t = Phi w_t`` with scikit-learn DBSCAN off the hot path.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, NamedTuple, Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmeta import networks as _networks

Params = Any

MIX_MODES = ("structured", "outputs", "weights", "weights_per_sample")
W_INITS = ("fan_in", "mean")
RESET_METHODS = ("dirichlet", "normalized_uniform", "copy")
TASK_SCHEMES = ("uniform", "grouped", "weighted")
DEFAULT_LOSS_THRESHOLD = 3e3  # Table VII, "extreme loss threshold"
TACO_MT10_DOUBLED = ("pick-place", "peg-insert-side", "drawer-open")  # paper 002, Sec. V-A


# --------------------------------------------------------------------------------------------------
# Compositional layers


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
    task_id: jax.Array,
    mix_mode: str = "structured",
) -> jax.Array:
    """``y_b = x_b @ (sum_k w_{t(b),k} Phi_k) + sum_k w_{t(b),k} b_k``.

    x (B, in), kernel (K, in, out), bias (K, out) or None, w_table (T, K), task_id (B,) -> (B, out).
    ``mix_mode``: one of `MIX_MODES` (see the module docstring), or ``"sorted_blocks"`` (internal: the
    caller guarantees ``task_id == repeat(arange(T), B // T)``; used by `structured_apply`).
    """
    chex.assert_rank([x, kernel, w_table, task_id], [2, 3, 2, 1])
    if mix_mode == "structured":
        return structured_apply(
            lambda x_, tid_, mode: compositional_matmul(x_, kernel, bias, w_table, tid_, mode),
            x, task_id, w_table.shape[0],
        )
    if mix_mode == "sorted_blocks":
        return _blocked_matmul(x, kernel, bias, w_table)
    if mix_mode == "outputs":
        w = w_table[task_id]  # (B, K)
        y = jnp.einsum("bi,kio->bko", x, kernel)
        if bias is not None:
            y = y + bias
        return jnp.einsum("bko,bk->bo", y, w)
    if mix_mode == "weights":
        theta = jnp.einsum("tk,kio->tio", w_table, kernel)  # (T, in, out)
        y = jnp.einsum("bi,tio->bto", x, theta)
        if bias is not None:
            y = y + (w_table @ bias)[None]  # (T, out)
        return jnp.take_along_axis(y, task_id[:, None, None], axis=1)[:, 0]
    if mix_mode == "weights_per_sample":
        theta = jnp.einsum("tk,kio->tio", w_table, kernel)[task_id]  # (B, in, out)
        y = jnp.einsum("bi,bio->bo", x, theta)
        if bias is not None:
            y = y + (w_table @ bias)[task_id]
        return y
    raise ValueError(f"mix_mode must be one of {MIX_MODES}, got {mix_mode!r}")


def structured_apply(fn: Callable, x: jax.Array, task_id: jax.Array, num_tasks: int) -> jax.Array:
    """Run ``fn(x, task_id, mode) -> (B, ...)`` on the fastest correct path, chosen at run time.

    If every task has exactly ``n = B / T`` samples (e.g. `jaxmeta.replay`'s ``balanced`` sampler once all
    tasks have data, or an env batch with the same number of instances per skill), the batch is sorted by
    task (stable argsort), ``fn`` runs in ``"sorted_blocks"`` mode (one batched matmul over tasks per
    layer, about K times fewer flops than "outputs") and the rows are put back in their original order.
    Otherwise (or if ``T`` does not divide ``B``) ``fn`` runs in ``"outputs"`` mode. Both branches are
    compiled (``lax.cond`` on an unbatched predicate); results do not depend on the branch taken, up to
    float rounding. Under an outer ``jax.vmap`` that batches ``task_id`` the cond becomes a select and
    both branches run -- use "outputs" there.
    """
    b = x.shape[0]
    if b % num_tasks != 0:
        return fn(x, task_id, "outputs")
    counts = jax.ops.segment_sum(jnp.ones_like(task_id), task_id, num_segments=num_tasks)
    equal = jnp.all(counts == b // num_tasks)

    def fast(x, task_id):
        order = jnp.argsort(task_id, stable=True)
        inverse = jnp.zeros_like(order).at[order].set(jnp.arange(b, dtype=order.dtype))
        return fn(x[order], task_id[order], "sorted_blocks")[inverse]

    def general(x, task_id):
        return fn(x, task_id, "outputs")

    return jax.lax.cond(equal, fast, general, x, task_id)


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
    """Dense layer with K parameter sets. ``(x (B,in), w_table (T,K), task_id (B,)) -> (B, features)``.

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
    def __call__(self, x: jax.Array, w_table: jax.Array, task_id: jax.Array) -> jax.Array:
        chex.assert_shape(w_table, (None, self.num_param_sets))
        kernel, bias = _declare_sets(self, x.shape[-1])
        return compositional_matmul(x, kernel, bias, w_table, task_id, self.mix_mode)


class PaCoMLP(nn.Module):
    """Compositional MLP ``layer_0..layer_{n-1}`` + ``head``; w_table is an input, not a parameter.

    ``(x (B,D), w_table (T,K), task_id (B,)) -> (B, out_dim)``. With ``mix_mode="structured"`` the
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
    def __call__(self, x: jax.Array, w_table: jax.Array, task_id: jax.Array) -> jax.Array:
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
                    self.out_dim, self.num_param_sets, self.identical_init,
                    kernel_init=lecun_truncated_normal(), name="head",
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
            h = structured_apply(forward, x, task_id, w_table.shape[0])
        else:
            h = forward(x, task_id, self.mix_mode)
        return h if shared_head is None else shared_head(h)


# --------------------------------------------------------------------------------------------------
# Config and networks


@dataclasses.dataclass(frozen=True)
class PaCoConfig:
    """PaCo actor / critic architecture (static, hashable)."""

    obs_dim: int = 39
    action_dim: int = 4
    num_tasks: int = 10
    num_param_sets: int = 5  # K, Table VII
    hidden: tuple[int, ...] = (400, 400, 400)  # Table VI
    activation: str = "relu"
    share_w: bool = True  # one w for actor + critics (official); see module docstring
    identical_init: bool = True  # official use_identical_init=True
    mix_mode: str = "structured"
    w_init: str = "fan_in"
    compositional_head: bool = True  # official share_action_projection=False
    num_critics: int = 2
    log_std_min: float = -10.0  # official clipped_exp(-10, 2)
    log_std_max: float = 2.0

    def __post_init__(self):
        if not isinstance(self.hidden, tuple):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        for name in ("obs_dim", "action_dim", "num_tasks", "num_param_sets", "num_critics"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PaCoConfig.{name} must be a positive int, got {value!r}")
        if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden):
            raise ValueError(f"PaCoConfig.hidden must be a tuple of positive ints, got {self.hidden!r}")
        if self.activation not in _networks.ACTIVATIONS:
            raise ValueError(
                f"PaCoConfig.activation must be one of {tuple(_networks.ACTIVATIONS)}, got {self.activation!r}"
            )
        if self.mix_mode not in MIX_MODES:
            raise ValueError(f"PaCoConfig.mix_mode must be one of {MIX_MODES}, got {self.mix_mode!r}")
        if self.w_init not in W_INITS:
            raise ValueError(f"PaCoConfig.w_init must be one of {W_INITS}, got {self.w_init!r}")
        for name in ("share_w", "identical_init", "compositional_head"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"PaCoConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.identical_init and self.w_init == "mean" and self.num_param_sets > 1:
            raise ValueError(
                "PaCoConfig: identical_init=True with w_init='mean' never breaks the symmetry between the "
                f"{self.num_param_sets} parameter sets; use w_init='fan_in' or identical_init=False"
            )
        if not (math.isfinite(self.log_std_min) and math.isfinite(self.log_std_max)):
            raise ValueError(
                f"PaCoConfig.log_std_min/max must be finite, got ({self.log_std_min!r}, {self.log_std_max!r})"
            )
        if not self.log_std_min < self.log_std_max:
            raise ValueError(
                f"PaCoConfig.log_std_min ({self.log_std_min!r}) must be < log_std_max ({self.log_std_max!r})"
            )


class PaCoActor(nn.Module):
    """``apply(params, obs (B,O), task_id (B,)) -> (mean (B,A), log_std (B,A))``. Params: ``w (T,K)``, ``mlp``."""

    config: PaCoConfig

    @nn.compact
    def __call__(self, obs: jax.Array, task_id: jax.Array) -> tuple[jax.Array, jax.Array]:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(task_id, (obs.shape[0],))
        w = self.param("w", w_initializer(cfg.w_init), (cfg.num_tasks, cfg.num_param_sets))
        out = PaCoMLP(
            cfg.hidden,
            2 * cfg.action_dim,
            cfg.num_param_sets,
            cfg.mix_mode,
            cfg.identical_init,
            cfg.activation,
            cfg.compositional_head,
            name="mlp",
        )(obs, w, task_id)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, cfg.log_std_min, cfg.log_std_max)


class PaCoCritic(nn.Module):
    """``apply(params, obs (B,O), action (B,A), task_id (B,)) -> q (E, B)``.

    Params: ``w (T,K)`` (one table for all E critics) and ``q`` (E independent compositional MLPs stacked
    on the leading axis of every parameter, evaluated with one vmapped call).
    """

    config: PaCoConfig

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, task_id: jax.Array) -> jax.Array:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(action, (obs.shape[0], cfg.action_dim))
        chex.assert_shape(task_id, (obs.shape[0],))
        w = self.param("w", w_initializer(cfg.w_init), (cfg.num_tasks, cfg.num_param_sets))
        ensemble = nn.vmap(
            PaCoMLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=cfg.num_critics,
        )
        q = ensemble(
            cfg.hidden,
            1,
            cfg.num_param_sets,
            cfg.mix_mode,
            cfg.identical_init,
            cfg.activation,
            cfg.compositional_head,
            name="q",
        )(jnp.concatenate([obs, action], axis=-1), w, task_id)
        return q[..., 0]


def make_paco_networks(cfg: PaCoConfig) -> _networks.Networks:
    """PaCo actor / twin critic as a `jaxmeta.networks.Networks` (critic output ``(E, B)``).

    Plugs into `sac.make_sac` unchanged. Note: with ``cfg.share_w`` the actor and the critic each hold a
    copy of ``w`` which only `make_paco_sac` ties at init and merges after every update; plain
    ``sac.make_sac(config, make_paco_networks(cfg))`` behaves like ``share_w=False`` (two independent w).
    """
    return _networks.networks_from_modules(PaCoActor(cfg), PaCoCritic(cfg), cfg.obs_dim, cfg.action_dim)


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


def per_task_mean(per_sample: jax.Array, task_id: jax.Array, num_tasks: int) -> jax.Array:
    """Mean of ``per_sample (B,)`` over each task's samples -> ``(T,)``; 0 for tasks not in the batch."""
    chex.assert_rank([per_sample, task_id], [1, 1])
    sums = jax.ops.segment_sum(per_sample, task_id, num_segments=num_tasks)
    counts = jax.ops.segment_sum(jnp.ones_like(per_sample), task_id, num_segments=num_tasks)
    return jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), 0.0)


def loss_mask(per_task_loss: jax.Array, threshold: float = DEFAULT_LOSS_THRESHOLD) -> jax.Array:
    """``valid (T,) bool``: task loss finite and ``<= threshold`` (official: masked iff loss > threshold)."""
    chex.assert_rank(per_task_loss, 1)
    return jnp.isfinite(per_task_loss) & (per_task_loss <= threshold)


def sample_mask_from_tasks(valid: jax.Array, task_id: jax.Array) -> jax.Array:
    """Per-sample mask ``(B,) f32``: 1 where the sample's task is valid, 0 where it is masked out."""
    chex.assert_rank([valid, task_id], [1, 1])
    return valid[task_id].astype(jnp.float32)


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
    ``resets_per_task (T,)`` and ``total_resets``: cumulative over training."""

    num_masked: jax.Array
    resets_per_task: jax.Array
    total_resets: jax.Array

    @classmethod
    def zeros(cls, num_tasks: int) -> "ResetCounters":
        return cls(jnp.zeros((), jnp.int32), jnp.zeros((num_tasks,), jnp.int32), jnp.zeros((), jnp.int32))


def update_counters(counters: ResetCounters, valid: jax.Array, reset: bool | jax.Array = True) -> ResetCounters:
    """Count this update's masked tasks; add them to the reset totals when ``reset`` (and some task is
    valid -- with no valid task nothing is reset)."""
    invalid = (~valid).astype(jnp.int32)
    did_reset = jnp.logical_and(jnp.asarray(reset), jnp.any(valid)).astype(jnp.int32)
    return ResetCounters(
        num_masked=jnp.sum(invalid),
        resets_per_task=counters.resets_per_task + invalid * did_reset,
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


# --------------------------------------------------------------------------------------------------
# PaCo-SAC: sac.update + mask-out + w-reset (+ shared-w sync)


MASK_TIMINGS = ("exact", "lagged")


@struct.dataclass
class PaCoState:
    """`sac.SACState` plus the mask-out / reset counters."""

    sac: Any
    counters: ResetCounters


class PaCoSAC(NamedTuple):
    """init(key) -> PaCoState; update(state, batch, key, weights=None, mask=None) -> (state', metrics,
    td_error (B,)); act as `sac.SAC.act` (accepts a PaCoState too); sac: the underlying `sac.SAC`."""

    init: Callable
    update: Callable
    act: Callable
    sac: Any


def extreme_task_loss(critic_per_task: jax.Array) -> jax.Array:
    """Per-task loss compared with the threshold: ``sum_k (Q_k - y)^2`` averaged over the task's samples
    (``2 x`` sac's ``0.5 sum_k`` critic loss, i.e. ALF's unhalved squared TD loss summed over critics).

    The official code thresholds actor + critic + alpha loss, but ALF's actor-loss *value* is
    ``0.5 |dQ/da|^2 + alpha log pi`` (not sac.py's ``alpha log pi - Q``, whose ``-Q`` of order -1e3 would
    hide explosions), so the critic term is what the threshold sees when a task's loss explodes.
    """
    return 2.0 * critic_per_task


def make_paco_sac(
    sac_config,
    cfg: PaCoConfig,
    *,
    mask_out: bool = True,
    reset: bool = True,
    threshold: float = DEFAULT_LOSS_THRESHOLD,
    reset_method: str = "dirichlet",
    mask_timing: str = "exact",
) -> PaCoSAC:
    """PaCo-SAC (Algorithm 1's policy-training loop) on top of `sac.make_sac` with PaCo networks.

    Per update: (1) ``mask_timing="exact"``: per-task losses of this batch with the pre-update params (one
    extra forward pass of `sac.critic_loss`, same key as the update) -> ``valid``; samples of invalid tasks
    are masked out of every loss of this update (official). ``"lagged"``: no extra pass; the update runs
    unmasked and ``valid`` is read from its own per-task critic losses (pre-update params, same batch), so an
    exploding task gets one unmasked step before its w is reset. (2) `sac.update` with the mask.
    (3) ``share_w``: `sync_shared_w`. (4) ``reset``: invalid tasks' w re-drawn by `reset_w` in actor,
    critic and target critic (same beta; the target gets the critic's new rows). (5) counters.
    Metrics add ``paco_num_masked``, ``paco_total_resets``, ``paco_extreme_loss_per_task (T,)``,
    ``paco_valid_per_task (T,)``.
    """
    from jaxmeta import sac as _sac

    if mask_timing not in MASK_TIMINGS:
        raise ValueError(f"mask_timing must be one of {MASK_TIMINGS}, got {mask_timing!r}")
    if reset_method not in RESET_METHODS:
        raise ValueError(f"reset_method must be one of {RESET_METHODS}, got {reset_method!r}")
    if not (isinstance(threshold, (int, float)) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    if sac_config.num_tasks != cfg.num_tasks:
        raise ValueError(f"SACConfig.num_tasks ({sac_config.num_tasks}) != PaCoConfig.num_tasks ({cfg.num_tasks})")
    networks = make_paco_networks(cfg)
    algo = _sac.make_sac(sac_config, networks)
    num_tasks = cfg.num_tasks

    def init(key: jax.Array) -> PaCoState:
        state = algo.init(key)
        if cfg.share_w:  # one table: the critic's, copied into actor and target critic
            w = get_w(state.critic_params)
            state = state.replace(
                actor_params=set_w(state.actor_params, w),
                target_critic_params=set_w(state.target_critic_params, w),
            )
        return PaCoState(sac=state, counters=ResetCounters.zeros(num_tasks))

    def update(state: PaCoState, batch, key: jax.Array, weights=None, mask=None):
        s = state.sac
        update_key, reset_key = jax.random.split(key)
        b = batch.reward.shape[0]
        user_mask = jnp.ones((b,), jnp.float32) if mask is None else (jnp.asarray(mask) > 0).astype(jnp.float32)

        if mask_out and mask_timing == "exact":
            critic_key, _ = jax.random.split(update_key)  # the key sac.update gives its critic loss
            _, c_aux = _sac.critic_loss(
                s.critic_params, s.target_critic_params, s.actor_params, s.log_alpha, batch, critic_key,
                None, user_mask, networks=networks, config=sac_config,
            )
            extreme = jax.lax.stop_gradient(extreme_task_loss(c_aux["per_task"]))
            valid = loss_mask(extreme, threshold)
            use_mask = user_mask * sample_mask_from_tasks(valid, batch.task_id)
        else:
            use_mask = user_mask

        w_before = get_w(s.critic_params)
        new, metrics, td_error = algo.update(s, batch, update_key, weights, use_mask)

        if not mask_out:
            extreme = extreme_task_loss(metrics["critic_loss_per_task"])
            valid = jnp.ones((num_tasks,), bool)
        elif mask_timing == "lagged":
            extreme = extreme_task_loss(metrics["critic_loss_per_task"])
            valid = loss_mask(extreme, threshold)

        actor_p, critic_p, target_p = new.actor_params, new.critic_params, new.target_critic_params
        if cfg.share_w:
            actor_p, critic_p, target_p = sync_shared_w(w_before, actor_p, critic_p, target_p)
        if reset and mask_out:
            actor_p, critic_p = reset_params_w([actor_p, critic_p], valid, reset_key, reset_method)
            target_p = set_w(target_p, jnp.where(valid[:, None], get_w(target_p), get_w(critic_p)))
        new = new.replace(actor_params=actor_p, critic_params=critic_p, target_critic_params=target_p)

        counters = update_counters(state.counters, valid, reset and mask_out)
        metrics = dict(metrics)
        metrics["paco_num_masked"] = counters.num_masked
        metrics["paco_total_resets"] = counters.total_resets
        metrics["paco_extreme_loss_per_task"] = extreme
        metrics["paco_valid_per_task"] = valid.astype(jnp.float32)
        return PaCoState(sac=new, counters=counters), metrics, td_error

    def act(state_or_params, obs, task_id, key=None, deterministic=False):
        if isinstance(state_or_params, PaCoState):
            state_or_params = state_or_params.sac
        return algo.act(state_or_params, obs, task_id, key, deterministic)

    return PaCoSAC(init=init, update=update, act=act, sac=algo)


# --------------------------------------------------------------------------------------------------
# TaCo task sampling


def _validate_groups(groups: Sequence[Sequence[int]], num_tasks: int) -> list[list[int]]:
    groups = [list(map(int, g)) for g in groups]
    if any(len(g) == 0 for g in groups):
        raise ValueError(f"task groups must be non-empty, got {groups!r}")
    flat = sorted(t for g in groups for t in g)
    if flat != list(range(num_tasks)):
        raise ValueError(f"task groups must partition range({num_tasks}) (each task exactly once), got {groups!r}")
    return groups


def task_probabilities(
    scheme: str,
    num_tasks: int,
    groups: Sequence[Sequence[int]] | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Task sampling distribution ``(T,) float64``, summing to 1.

    ``"uniform"``: ``1/T``. ``"grouped"``: ``p_t = 1 / (|G| |g_i|)`` for ``t in g_i`` (``groups`` a
    partition of ``range(T)``). ``"weighted"``: ``weights / sum(weights)`` (non-negative, not all 0).
    """
    if not isinstance(num_tasks, int) or num_tasks < 1:
        raise ValueError(f"num_tasks must be a positive int, got {num_tasks!r}")
    if scheme == "uniform":
        return np.full(num_tasks, 1.0 / num_tasks)
    if scheme == "grouped":
        if groups is None:
            raise ValueError("scheme 'grouped' needs groups")
        groups = _validate_groups(groups, num_tasks)
        p = np.zeros(num_tasks)
        for g in groups:
            p[g] = 1.0 / (len(groups) * len(g))
        return p
    if scheme == "weighted":
        if weights is None:
            raise ValueError("scheme 'weighted' needs weights")
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (num_tasks,):
            raise ValueError(f"weights must have shape ({num_tasks},), got {w.shape}")
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
    """``n`` task ids ``(n,) int32`` drawn iid from ``probs (T,)`` (pure JAX, jit-able)."""
    probs = jnp.asarray(probs, jnp.float32)
    logits = jnp.where(probs > 0, jnp.log(jnp.where(probs > 0, probs, 1.0)), -jnp.inf)
    return jax.random.categorical(key, logits, shape=(n,)).astype(jnp.int32)


def group_tasks_dbscan(
    theta: np.ndarray, eps: float, min_samples: int = 2, metric: str = "euclidean"
) -> list[list[int]]:
    """TaCo-online grouping: DBSCAN on task parameters ``theta (T, D)``; noise tasks become singletons.

    Returns a partition of ``range(T)``: clusters in order of their smallest task id.
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
    """TaCo batch composition: ``batch_size`` task ids ``(B,) int32`` (sorted by task) with
    ``E[count_t] = B p_t`` exactly and ``|count_t - B p_t| < 1`` (stratified: ``floor(B p_t)`` each, the
    remaining ``R`` slots by systematic sampling over the fractional parts). Pure JAX, jit-able, ``probs``
    may be traced (the compiled program is reused when the distribution changes).

    ``available (T,) bool`` (optional): tasks that can be drawn (e.g. ``task_counts > 0``); ``probs`` is
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


# --------------------------------------------------------------------------------------------------
# Options of the PaCo / TaCo learners (a field of jaxmeta.config.TrainConfig)


TASK_SAMPLINGS = ("uniform", "grouped", "weighted", "online")
TASK_SAMPLING_MODES = ("sample", "reweight")
TRANSFER_W_INITS = ("fresh", "convex")


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
      ``"reweight"`` keeps task-balanced batches (B/T each, PaCo's fast path) and weights sample losses
      by T p_t (same expected gradient).
    TaCo transfer (phase 2; ``transfer_from`` = a paco/taco run directory): the actor's Phi is restored
    from its checkpoint (``transfer_step``, ``transfer_seed_index``), critic fresh, new w
    (``transfer_w_init``: ``"fresh"`` = the network's initialiser, ``"convex"`` = a random convex
    combination of the source tasks' w); for the first ``transfer_explore_steps`` env steps (n_e) the
    envs act with random subspace policies ``w = W beta`` (beta uniform on the simplex, one per env and
    episode) and only the critic trains; then Phi and w train (``transfer_fixed_phi``: only w).
    """

    num_param_sets: int = 5
    loss_threshold: float = DEFAULT_LOSS_THRESHOLD
    mask_out: bool = True
    reset: bool = True
    reset_method: str = "dirichlet"
    mask_timing: str = "exact"
    mix_mode: str = "structured"
    share_w: bool = True
    identical_init: bool = True
    w_init: str = "fan_in"
    compositional_head: bool = True
    log_std_min: float = -10.0
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


def _opt_err(name: str, what: str, value: Any) -> ValueError:
    return ValueError(f"TrainConfig.paco.{name} must be {what}, got {value!r}")


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
    T = len(skills)
    fix: dict[str, Any] = {}

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    def is_num(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)

    for name in ("num_param_sets", "online_min_samples"):
        v = getattr(opts, name)
        if not is_int(v) or v < 1:
            raise _opt_err(name, "an int >= 1", v)
    for name in ("online_every", "transfer_explore_steps", "transfer_seed_index"):
        v = getattr(opts, name)
        if not is_int(v) or v < 0:
            raise _opt_err(name, "an int >= 0", v)
    for name in ("mask_out", "reset", "share_w", "identical_init", "compositional_head", "transfer_fixed_phi"):
        if not isinstance(getattr(opts, name), bool):
            raise _opt_err(name, "a bool", getattr(opts, name))
    for name, choices in (("reset_method", RESET_METHODS), ("mask_timing", MASK_TIMINGS), ("mix_mode", MIX_MODES),
                          ("w_init", W_INITS), ("task_sampling", TASK_SAMPLINGS),
                          ("task_sampling_mode", TASK_SAMPLING_MODES), ("transfer_w_init", TRANSFER_W_INITS)):
        if getattr(opts, name) not in choices:
            raise _opt_err(name, f"one of {choices}", getattr(opts, name))
    for name in ("loss_threshold", "online_eps", "upweight_factor"):
        v = getattr(opts, name)
        if not is_num(v) or v <= 0:
            raise _opt_err(name, "a finite number > 0", v)
    for name in ("log_std_min", "log_std_max"):
        if not is_num(getattr(opts, name)):
            raise _opt_err(name, "a finite number", getattr(opts, name))
    if not opts.log_std_min < opts.log_std_max:
        raise _opt_err("log_std_min", f"< log_std_max ({opts.log_std_max!r})", opts.log_std_min)
    for name in ("log_alpha_min", "log_alpha_max"):
        v = getattr(opts, name)
        if v is not None and not is_num(v):
            raise _opt_err(name, "a finite number or None", v)
    if opts.log_alpha_min is not None and opts.log_alpha_max is not None and opts.log_alpha_min >= opts.log_alpha_max:
        raise _opt_err("log_alpha_min", f"< log_alpha_max ({opts.log_alpha_max!r})", opts.log_alpha_min)
    if opts.identical_init and opts.w_init == "mean" and opts.num_param_sets > 1:
        raise ValueError(
            "TrainConfig.paco: identical_init=True with w_init='mean' never breaks the symmetry between the "
            f"{opts.num_param_sets} parameter sets; use w_init='fan_in' or identical_init=False"
        )
    if opts.transfer_from is not None and (not isinstance(opts.transfer_from, str) or not opts.transfer_from):
        raise _opt_err("transfer_from", "a run directory (non-empty string) or None", opts.transfer_from)
    if opts.transfer_step is not None and (not is_int(opts.transfer_step) or opts.transfer_step < 0):
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
        raise ValueError(
            f"TrainConfig.paco.task_sampling={opts.task_sampling!r} needs algo 'taco' (got algo {algo!r})"
        )
    if opts.task_sampling == "grouped":
        if opts.task_groups is None:
            raise ValueError("TrainConfig.paco.task_sampling='grouped' needs paco.task_groups")
        try:
            _validate_groups(opts.task_groups, T)
        except ValueError as e:
            raise ValueError(f"TrainConfig.paco.task_groups: {e}") from None
    if opts.task_sampling == "weighted":
        if opts.task_weights is None and not opts.upweighted_skills:
            raise ValueError("TrainConfig.paco.task_sampling='weighted' needs paco.task_weights or paco.upweighted_skills")
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
