"""Skill-conditioned SAC networks: tanh-Gaussian actor and twin-Q critic.

Two conditioning schemes (`NetworkConfig.conditioning`):

- ``"onehot"`` (MT-SAC): the one-hot skill id is appended to the network input; every layer is shared.
- ``"multihead"`` (MH-SAC): the trunk sees the observation only (plus the action for the critic) and is
  shared by all skills; the output layer has one head per skill, stored as one array
  ``head_kernel (num_skills, H, out)`` / ``head_bias (num_skills, out)``, and each sample uses the head of
  its own skill. Head ``j`` therefore gets exactly zero gradient from samples of other skills, and the
  skill-agnostic trunk can be reused for a new skill (ANIL-style transfer).

Layer normalisation (`NetworkConfig.layer_norm`): ``"critic"`` or ``"both"`` puts a LayerNorm (Ba et
al. 2016, learned scale and offset) between every hidden Dense layer and its activation in the critic
(and the actor), ``h = act(LN(W x + b))``, as the critics of RLPD (Ball et al. 2023) and BRO (Nauman et
al. 2024) do to keep Q-targets from diverging at high replay ratios; ``"none"`` (the default) is the
plain MLP, parameter tree unchanged.

Shapes: ``B`` batch, ``O`` obs_dim, ``A`` action_dim, ``T`` num_skills. ``skill_id`` is int32 in [0, T).

Network protocol (what `jaxmeta.sac` needs)
-------------------------------------------
`sac.py` only touches these six fields of a `Networks` value, so any network family (e.g. PaCo's
compositional networks in `jaxmeta/paco.py`) can be used unchanged by providing an object with them:

- ``actor_init(key) -> actor_params``
- ``critic_init(key) -> critic_params``
- ``actor_apply(actor_params, obs (B,O) f32, skill_id (B,) i32) -> (mean (B,A), log_std (B,A))``,
  ``log_std`` already clipped to its valid range.
- ``critic_apply(critic_params, obs (B,O), action (B,A), skill_id (B,)) -> q (E,B)`` with ``E >= 1``
  critics stacked on the leading axis (``E = 2`` here; SAC takes the min over axis 0).
- ``sample_action(actor_params, obs, skill_id, key) -> (action (B,A) in (-1,1), log_prob (B,))``
- ``deterministic_action(actor_params, obs, skill_id) -> action (B,A) in (-1,1)``

The easiest way to satisfy it is `networks_from_modules(actor_module, critic_module, obs_dim,
action_dim)` (or `networks_from_apply` for hand-written apply functions), which derives the two action
helpers from ``actor_apply`` with `sample_tanh_gaussian` / `squash`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

Params = Any

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": jnp.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "swish": nn.silu,
}
CONDITIONINGS = ("onehot", "multihead")
LAYER_NORMS = ("none", "critic", "both")

# Squashed actions are clipped to [-ACTION_BOUND, ACTION_BOUND] so they are strictly inside (-1, 1) in
# float32 (tanh(u) rounds to exactly 1.0 for u > ~9); log-probs are computed from the pre-tanh sample.
ACTION_BOUND = 1.0 - 1e-6
_LOG_2PI = math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Architecture of the SAC actor and critic (static; hashable, safe as a jit static argument)."""

    obs_dim: int = 39
    action_dim: int = 4
    num_skills: int = 1
    hidden: tuple[int, ...] = (400, 400, 400)  # PaCo Table VI
    conditioning: str = "onehot"  # "onehot" | "multihead" (see module docstring)
    activation: str = "relu"
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    layer_norm: str = "none"  # "none" | "critic" | "both" (module docstring)

    def __post_init__(self):
        if not isinstance(self.hidden, tuple):  # accept lists, store a (hashable) tuple
            object.__setattr__(self, "hidden", tuple(self.hidden))
        for name in ("obs_dim", "action_dim", "num_skills"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"NetworkConfig.{name} must be a positive int, got {value!r}")
        if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in self.hidden):
            raise ValueError(f"NetworkConfig.hidden must be a tuple of positive ints, got {self.hidden!r}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"NetworkConfig.conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"NetworkConfig.activation must be one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
        if self.layer_norm not in LAYER_NORMS:
            raise ValueError(f"NetworkConfig.layer_norm must be one of {LAYER_NORMS}, got {self.layer_norm!r}")
        for name in ("log_std_min", "log_std_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"NetworkConfig.{name} must be a finite number, got {value!r}")
        if not self.log_std_min < self.log_std_max:
            raise ValueError(
                f"NetworkConfig.log_std_min ({self.log_std_min!r}) must be < log_std_max ({self.log_std_max!r})"
            )


class TaskMLP(nn.Module):
    """MLP with skill conditioning. ``(B, D) f32, (B,) i32 -> (B, out_dim)``.

    "onehot": input is concat(x, onehot(skill_id)), single output layer ``head``.
    "multihead": input is x, output layer ``head_kernel (T, H, out)``, ``head_bias (T, out)``; all heads
    are computed with one matmul and each sample's own head is selected (gather), so other heads get
    exactly zero gradient from it. layer_norm: ``act(LayerNorm(Dense(x)))`` in every hidden layer.
    """

    hidden: tuple[int, ...]
    out_dim: int
    num_skills: int
    conditioning: str = "onehot"
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, skill_id: jax.Array) -> jax.Array:
        chex.assert_rank(x, 2)
        chex.assert_shape(skill_id, (x.shape[0],))
        act = ACTIVATIONS[self.activation]
        if self.conditioning == "onehot":
            x = jnp.concatenate([x, jax.nn.one_hot(skill_id, self.num_skills, dtype=x.dtype)], axis=-1)
        for i, width in enumerate(self.hidden):
            x = nn.Dense(width, name=f"hidden_{i}")(x)
            if self.layer_norm:
                x = nn.LayerNorm(name=f"norm_{i}")(x)
            x = act(x)
        if self.conditioning == "onehot":
            return nn.Dense(self.out_dim, name="head")(x)
        kernel = self.param(
            "head_kernel",
            nn.initializers.lecun_normal(batch_axis=(0,)),
            (self.num_skills, x.shape[-1], self.out_dim),
        )
        bias = self.param("head_bias", nn.initializers.zeros, (self.num_skills, self.out_dim))
        all_heads = jnp.einsum("bh,tho->bto", x, kernel) + bias  # (B, T, out)
        return jnp.take_along_axis(all_heads, skill_id[:, None, None], axis=1)[:, 0]


class Actor(nn.Module):
    """Gaussian policy head. ``apply(params, obs (B,O), skill_id (B,)) -> (mean (B,A), log_std (B,A))``.

    ``log_std`` is clipped to ``[log_std_min, log_std_max]``; the action is ``tanh`` of a sample.
    """

    config: NetworkConfig

    @nn.compact
    def __call__(self, obs: jax.Array, skill_id: jax.Array) -> tuple[jax.Array, jax.Array]:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        out = TaskMLP(
            cfg.hidden,
            2 * cfg.action_dim,
            cfg.num_skills,
            cfg.conditioning,
            cfg.activation,
            layer_norm=cfg.layer_norm == "both",
            name="mlp",
        )(obs, skill_id)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, cfg.log_std_min, cfg.log_std_max)


def critic_ensemble(module: type[nn.Module], num_critics: int) -> type[nn.Module]:
    """`module` lifted to `num_critics` independent copies (separate initialisations), its parameters
    stacked on a new leading axis, called with the same inputs: outputs ``(num_critics, ...)``."""
    return nn.vmap(
        module,
        variable_axes={"params": 0},
        split_rngs={"params": True},
        in_axes=None,
        out_axes=0,
        axis_size=num_critics,
    )


class Critic(nn.Module):
    """Twin Q-network. ``apply(params, obs (B,O), action (B,A), skill_id (B,)) -> q (2, B)``.

    The two critics are independent MLPs (separate initialisations) stacked on the leading axis of every
    parameter (``params["q"][...]`` has shape ``(2, ...)``) and evaluated with one vmapped call.
    """

    config: NetworkConfig
    num_critics: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, skill_id: jax.Array) -> jax.Array:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(action, (obs.shape[0], cfg.action_dim))
        q = critic_ensemble(TaskMLP, self.num_critics)(
            cfg.hidden,
            1,
            cfg.num_skills,
            cfg.conditioning,
            cfg.activation,
            layer_norm=cfg.layer_norm != "none",
            name="q",
        )(jnp.concatenate([obs, action], axis=-1), skill_id)
        return q[..., 0]


# --------------------------------------------------------------------------------------------------
# tanh-squashed Gaussian


def squash(u: jax.Array) -> jax.Array:
    """tanh, clipped to [-ACTION_BOUND, ACTION_BOUND] so the result is strictly inside (-1, 1)."""
    return jnp.clip(jnp.tanh(u), -ACTION_BOUND, ACTION_BOUND)


def tanh_gaussian_log_prob(mean: jax.Array, log_std: jax.Array, u: jax.Array) -> jax.Array:
    """log density of ``a = tanh(u)``, ``u ~ N(mean, exp(log_std)^2)``. ``(B,A) x3 -> (B,)``.

    Change of variables: ``log p(a) = log N(u) - sum_j log(1 - tanh(u_j)^2)``, with the stable identity
    ``log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))`` (no cancellation for large |u|).
    """
    chex.assert_equal_shape([mean, log_std, u])
    z = (u - mean) * jnp.exp(-log_std)
    gaussian = -0.5 * z**2 - log_std - 0.5 * _LOG_2PI
    log_det = 2.0 * (_LOG_2 - u - jax.nn.softplus(-2.0 * u))
    return jnp.sum(gaussian - log_det, axis=-1)


def sample_tanh_gaussian(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterised sample. ``(B,A), (B,A), key -> (action (B,A) in (-1,1), log_prob (B,))``.

    ``u = mean + exp(log_std) * eps`` with ``eps = jax.random.normal(key, mean.shape)``.
    """
    u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return squash(u), tanh_gaussian_log_prob(mean, log_std, u)


# --------------------------------------------------------------------------------------------------
# Networks bundle


@struct.dataclass
class Networks:
    """Pure functions of an actor/critic family (see the protocol in the module docstring).

    All fields are static (not pytree leaves), so a `Networks` value can be closed over or passed
    through `jax.jit` freely.
    """

    actor_init: Callable[[jax.Array], Params] = struct.field(pytree_node=False)
    critic_init: Callable[[jax.Array], Params] = struct.field(pytree_node=False)
    actor_apply: Callable[..., tuple[jax.Array, jax.Array]] = struct.field(pytree_node=False)
    critic_apply: Callable[..., jax.Array] = struct.field(pytree_node=False)
    sample_action: Callable[..., tuple[jax.Array, jax.Array]] = struct.field(pytree_node=False)
    deterministic_action: Callable[..., jax.Array] = struct.field(pytree_node=False)


def networks_from_apply(
    actor_init: Callable[[jax.Array], Params],
    critic_init: Callable[[jax.Array], Params],
    actor_apply: Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, jax.Array]],
    critic_apply: Callable[[Params, jax.Array, jax.Array, jax.Array], jax.Array],
) -> Networks:
    """Build `Networks` from init/apply functions, deriving the tanh-Gaussian action helpers."""

    def sample_action(actor_params, obs, skill_id, key):
        mean, log_std = actor_apply(actor_params, obs, skill_id)
        return sample_tanh_gaussian(mean, log_std, key)

    def deterministic_action(actor_params, obs, skill_id):
        mean, _ = actor_apply(actor_params, obs, skill_id)
        return squash(mean)

    return Networks(actor_init, critic_init, actor_apply, critic_apply, sample_action, deterministic_action)


def networks_from_modules(actor: nn.Module, critic: nn.Module, obs_dim: int, action_dim: int) -> Networks:
    """Build `Networks` from flax modules with the `Actor` / `Critic` call signatures."""
    dummy_obs = jnp.zeros((1, obs_dim), jnp.float32)
    dummy_action = jnp.zeros((1, action_dim), jnp.float32)
    dummy_task = jnp.zeros((1,), jnp.int32)
    return networks_from_apply(
        actor_init=lambda key: actor.init(key, dummy_obs, dummy_task),
        critic_init=lambda key: critic.init(key, dummy_obs, dummy_action, dummy_task),
        actor_apply=actor.apply,
        critic_apply=critic.apply,
    )


def make_networks(cfg: NetworkConfig) -> Networks:
    """MT-SAC / MH-SAC networks for `cfg` (critic output shape ``(2, B)``)."""
    return networks_from_modules(Actor(cfg), Critic(cfg), cfg.obs_dim, cfg.action_dim)
