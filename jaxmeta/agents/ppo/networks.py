"""Skill-conditioned PPO networks: a Gaussian policy with a state-independent log-std, and a value net.

Both are `jaxmeta.networks.TaskMLP` trunks configured by the SAC `jaxmeta.networks.NetworkConfig`
(``obs_dim``, ``action_dim``, ``num_skills``, ``hidden``, ``conditioning`` "onehot" | "multihead",
``activation``, ``layer_norm``: "critic" puts LayerNorm in the value net, "both" in both; ``log_std_min``
/ ``log_std_max`` bound the log-std). The policy and the value net share no parameters.

Shapes: ``B`` batch, ``O`` obs_dim, ``A`` action_dim, ``T`` num_skills; ``skill_id (B,)`` int32 in [0, T).

Policy: ``a ~ N(mean(s, task), diag(exp(log_std[task])^2))`` with ``mean`` from the MLP and
``log_std`` a free parameter of shape ``(T, A)`` (one per skill and action dimension, independent of the
state, initialised to ``init_log_std``), clipped to ``[log_std_min, log_std_max]``.

Action distribution choice: an *unsquashed* Gaussian whose samples are clipped to ``[-1, 1]`` only when
sent to the env (`clip_action`), as in the PPO paper and its reference implementations. The rollout
stores the raw sample, so ``log pi(a|s)`` for the importance ratio is exact and cheap, and the entropy
bonus has a closed form. A tanh-squashed Gaussian would need either the stored pre-tanh sample or
``atanh`` of the stored action (ill-conditioned as ``|a| -> 1``) and has no closed-form entropy. The
price: the clipped env action equals the boundary for all samples beyond it, so the policy's mean can
drift outside ``[-1, 1]``; `deterministic_action` clips the mean.

Network protocol (what `jaxmeta.agents.ppo.ppo` needs), fields of `PPONetworks`:

- ``policy_init(key) -> policy_params``, ``value_init(key) -> value_params``
- ``policy_apply(policy_params, obs (B,O), skill_id (B,)) -> (mean (B,A), log_std (B,A))``
- ``value_apply(value_params, obs (B,O), skill_id (B,)) -> value (B,)``
- ``obs_dim``: ``O`` (the shape of the running observation statistics)

Observations arrive already normalised (`jaxmeta.agents.ppo.normalize`); the task one-hot is appended
inside the network and is never normalised.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from jaxmeta.networks import NetworkConfig, TaskMLP

__all__ = [
    "GaussianPolicy",
    "PPONetworks",
    "ValueNetwork",
    "clip_action",
    "gaussian_entropy",
    "gaussian_log_prob",
    "make_ppo_networks",
    "ppo_networks_from_modules",
    "sample_gaussian",
]

Params = Any
_LOG_2PI = math.log(2.0 * math.pi)


class GaussianPolicy(nn.Module):
    """``apply(params, obs (B,O), skill_id (B,)) -> (mean (B,A), log_std (B,A))``.

    Parameters: ``mlp`` (a `TaskMLP` with output ``A``) and ``log_std (T, A)``.
    """

    config: NetworkConfig
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array, skill_id: jax.Array) -> tuple[jax.Array, jax.Array]:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(skill_id, (obs.shape[0],))
        mean = TaskMLP(
            cfg.hidden,
            cfg.action_dim,
            cfg.num_skills,
            cfg.conditioning,
            cfg.activation,
            layer_norm=cfg.layer_norm == "both",
            name="mlp",
        )(obs, skill_id)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (cfg.num_skills, cfg.action_dim))
        return mean, jnp.clip(log_std[skill_id], cfg.log_std_min, cfg.log_std_max).astype(mean.dtype)


class ValueNetwork(nn.Module):
    """``apply(params, obs (B,O), skill_id (B,)) -> value (B,)`` (parameters: ``mlp``)."""

    config: NetworkConfig

    @nn.compact
    def __call__(self, obs: jax.Array, skill_id: jax.Array) -> jax.Array:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(skill_id, (obs.shape[0],))
        out = TaskMLP(
            cfg.hidden,
            1,
            cfg.num_skills,
            cfg.conditioning,
            cfg.activation,
            layer_norm=cfg.layer_norm != "none",
            name="mlp",
        )(obs, skill_id)
        return out[:, 0]


# --------------------------------------------------------------------------------------------------
# diagonal Gaussian


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    """``log N(action; mean, diag(exp(log_std)^2))`` summed over the last axis, ``(B,A) x3 -> (B,)``."""
    chex.assert_equal_shape([mean, log_std, action])
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * _LOG_2PI, axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Differential entropy ``sum_j (log_std_j + 0.5 * log(2 pi e))``, ``(B,A) -> (B,)``."""
    return jnp.sum(log_std + 0.5 * (_LOG_2PI + 1.0), axis=-1)


def sample_gaussian(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(B,A), (B,A), key -> (raw action (B,A), log_prob (B,))``; ``a = mean + exp(log_std) * eps``."""
    chex.assert_equal_shape([mean, log_std])
    action = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return action, gaussian_log_prob(mean, log_std, action)


def clip_action(action: jax.Array) -> jax.Array:
    """The env action: the raw Gaussian sample clipped to ``[-1, 1]``."""
    return jnp.clip(action, -1.0, 1.0)


# --------------------------------------------------------------------------------------------------
# bundle


@struct.dataclass
class PPONetworks:
    """Pure functions of a policy/value family (protocol in the module docstring; all fields static)."""

    policy_init: Callable[[jax.Array], Params] = struct.field(pytree_node=False)
    value_init: Callable[[jax.Array], Params] = struct.field(pytree_node=False)
    policy_apply: Callable[..., tuple[jax.Array, jax.Array]] = struct.field(pytree_node=False)
    value_apply: Callable[..., jax.Array] = struct.field(pytree_node=False)
    obs_dim: int = struct.field(pytree_node=False)


def ppo_networks_from_modules(policy: nn.Module, value: nn.Module, obs_dim: int) -> PPONetworks:
    """Build `PPONetworks` from flax modules with the `GaussianPolicy` / `ValueNetwork` signatures."""
    dummy_obs = jnp.zeros((1, obs_dim), jnp.float32)
    dummy_task = jnp.zeros((1,), jnp.int32)
    return PPONetworks(
        policy_init=lambda key: policy.init(key, dummy_obs, dummy_task),
        value_init=lambda key: value.init(key, dummy_obs, dummy_task),
        policy_apply=policy.apply,
        value_apply=value.apply,
        obs_dim=obs_dim,
    )


def make_ppo_networks(cfg: NetworkConfig, init_log_std: float = 0.0) -> PPONetworks:
    """Multi-task PPO networks for `cfg` (the SAC `NetworkConfig`; see the module docstring)."""
    if (
        isinstance(init_log_std, bool)
        or not isinstance(init_log_std, (int, float))
        or not (cfg.log_std_min <= init_log_std <= cfg.log_std_max)
    ):
        raise ValueError(
            f"init_log_std must be a number in [log_std_min, log_std_max] = [{cfg.log_std_min}, "
            f"{cfg.log_std_max}], got {init_log_std!r}"
        )
    return ppo_networks_from_modules(GaussianPolicy(cfg, float(init_log_std)), ValueNetwork(cfg), cfg.obs_dim)
