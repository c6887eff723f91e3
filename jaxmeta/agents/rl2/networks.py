"""RL2's recurrent policy and value network (Duan et al. 2016, "RL^2: Fast Reinforcement Learning via Slow
Reinforcement Learning", Sec. 2.2 / Fig. 1): a GRU whose hidden state carries over the episodes of one
trial, fed the observation and the previous step's action, reward and done flag.

Shapes: ``B`` batch (envs), ``O`` obs_dim, ``A`` action_dim, ``H`` the GRU width. One step::

    x_t   = [obs_t, a_{t-1}, r_{t-1}, d_{t-1}]          (O + A + 2; zeros at a trial's first step)
    h_t   = GRU(h_{t-1}, relu(Dense(x_t)))            (h = 0 at a trial's first step: `reset`)
    mean  = Dense_A(h_t),  log_std = a free (A,) parameter clipped to [log_std_min, log_std_max]
    value = Dense_1(h_t)

Policy and value share the recurrent trunk (as in RL2's GRU policy with a baseline head). Observations
arrive normalised (`jaxmeta.agents.ppo.normalize`); actions are raw Gaussian samples (`ppo.networks`),
clipped for the env. The agent is not told the skill: RL2 infers the task from its trial's history.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["RL2NetConfig", "RL2Networks", "RecurrentPolicy", "make_rl2_networks"]

Params = Any


@dataclasses.dataclass(frozen=True)
class RL2NetConfig:
    """obs_dim O, action_dim A, hidden (the input layer's width), gru H, log-std bounds and initial value."""

    obs_dim: int = 39
    action_dim: int = 4
    hidden: int = 256
    gru: int = 256
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    init_log_std: float = 0.0

    def __post_init__(self):
        for name in ("obs_dim", "action_dim", "hidden", "gru"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"RL2NetConfig.{name} must be a positive int, got {v!r}")
        if not self.log_std_min <= self.init_log_std <= self.log_std_max:
            raise ValueError(
                f"RL2NetConfig.init_log_std must be in [log_std_min, log_std_max] = [{self.log_std_min}, "
                f"{self.log_std_max}], got {self.init_log_std!r}"
            )

    @property
    def input_dim(self) -> int:
        return self.obs_dim + self.action_dim + 2


class RecurrentPolicy(nn.Module):
    """``apply(params, h (B,H), x (B, O+A+2)) -> (h' (B,H), mean (B,A), log_std (B,A), value (B,))``."""

    config: RL2NetConfig

    @nn.compact
    def __call__(self, h: jax.Array, x: jax.Array):
        cfg = self.config
        chex.assert_shape(x, (None, cfg.input_dim))
        chex.assert_shape(h, (x.shape[0], cfg.gru))
        z = nn.relu(nn.Dense(cfg.hidden, name="embed")(x))
        h, out = nn.GRUCell(cfg.gru, name="gru")(h, z)
        mean = nn.Dense(cfg.action_dim, name="mean", kernel_init=nn.initializers.orthogonal(0.01))(out)
        log_std = self.param("log_std", nn.initializers.constant(cfg.init_log_std), (cfg.action_dim,))
        log_std = jnp.broadcast_to(jnp.clip(log_std, cfg.log_std_min, cfg.log_std_max), mean.shape)
        value = nn.Dense(1, name="value")(out)[:, 0]
        return h, mean, log_std.astype(mean.dtype), value


@struct.dataclass
class RL2Networks:
    """init(key) -> params; step(params, h, x) -> (h', mean, log_std, value) (shapes above); config."""

    init: Callable[[jax.Array], Params] = struct.field(pytree_node=False)
    step: Callable[..., tuple[jax.Array, jax.Array, jax.Array, jax.Array]] = struct.field(pytree_node=False)
    config: RL2NetConfig = struct.field(pytree_node=False)


def inputs(obs: jax.Array, prev_action: jax.Array, prev_reward: jax.Array, prev_done: jax.Array) -> jax.Array:
    """``x = [obs, a_{t-1}, r_{t-1}, d_{t-1}]``: ``(..., O), (..., A), (...), (...) -> (..., O + A + 2)``."""
    return jnp.concatenate([obs, prev_action, prev_reward[..., None], prev_done.astype(obs.dtype)[..., None]], axis=-1)


def make_rl2_networks(config: RL2NetConfig) -> RL2Networks:
    module = RecurrentPolicy(config)

    def init(key: jax.Array) -> Params:
        return module.init(key, jnp.zeros((1, config.gru)), jnp.zeros((1, config.input_dim)))

    return RL2Networks(init=init, step=module.apply, config=config)
