"""PaCo actor and twin critic (paper 002, Sun et al. NeurIPS 2022): `PaCoConfig`, `make_paco_networks`.

Every trainable layer of the actor and of each critic is compositional (`jaxmeta.agents.paco.layers`):
task ``t``'s parameters are ``theta_t = Phi w_t`` (Eqn. 1), ``w_t (K,)`` a learned embedding of the task
id. Shapes: ``B`` batch, ``T`` num_skills, ``K`` num_param_sets, ``O`` obs_dim, ``A`` action_dim, ``E``
num_critics.

- `PaCoActor`: ``apply(params, obs (B,O), skill_id (B,)) -> (mean (B,A), log_std (B,A))``, ``log_std``
  clipped to ``[log_std_min, log_std_max]`` (official ``clipped_exp(-10, 2)``); params ``w (T,K)`` and
  ``mlp`` (``layer_0..`` + ``head``, or ``shared_head`` with ``compositional_head=False``; the official
  ``share_action_projection=False`` is the default, compositional heads).
- `PaCoCritic`: ``apply(params, obs (B,O), action (B,A), skill_id (B,)) -> q (E, B)``; params ``w (T,K)``
  (one table for all E critics) and ``q`` (E compositional MLPs stacked on the leading axis).
- `make_paco_networks(cfg)`: both as a `jaxmeta.networks.Networks` (tanh-Gaussian actor, twin-Q
  critic), so `jaxmeta.sac.make_sac` works unchanged.

`PaCoConfig` holds the network dimensions (obs / action / task counts, hidden widths, activation,
number of critics) and a `jaxmeta.agents.paco.options.PaCoOptions` for everything else
(``cfg.options``; only its `NETWORK_FIELDS` are kept, the others stay at their defaults). The eight
network fields are read through it (``cfg.num_param_sets`` is ``cfg.options.num_param_sets``) and are
validated once, by `check_network_options`. ``identical_init`` (official ``use_identical_init=True``)
with a constant ``w_init="mean"`` is rejected: nothing would break the symmetry between the K sets.
``share_w=True`` (official: one ``TaskEncodingNetwork`` for actor and critics): the actor and the
critic each hold a copy of ``w`` that only `jaxmeta.agents.paco.sac.make_paco_sac` ties at init and
merges after every update.
"""

from __future__ import annotations

import dataclasses

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxmeta import networks as _networks
from jaxmeta.agents.paco.layers import PaCoMLP, w_initializer
from jaxmeta.agents.paco.options import NETWORK_FIELDS, PaCoOptions, check_network_options

__all__ = ["PaCoActor", "PaCoConfig", "PaCoCritic", "make_paco_networks"]


@dataclasses.dataclass(frozen=True, init=False)
class PaCoConfig:
    """PaCo actor / critic architecture (static, hashable).

    ``PaCoConfig(obs_dim, action_dim, num_skills, num_param_sets, hidden, activation, *, num_critics,
    options, **network_fields)``: ``options`` (default ``PaCoOptions()``) supplies the `NETWORK_FIELDS`
    (``num_param_sets``, ``share_w``, ``identical_init``, ``mix_mode``, ``w_init``,
    ``compositional_head``, ``log_std_min``, ``log_std_max``); any of them given as a keyword overrides
    it. They are attributes of the config (read from ``options``) and `dataclasses.replace` accepts them.
    """

    obs_dim: int
    action_dim: int
    num_skills: int
    hidden: tuple[int, ...]
    activation: str
    num_critics: int
    options: PaCoOptions

    def __init__(
        self,
        obs_dim: int = 39,
        action_dim: int = 4,
        num_skills: int = 10,
        num_param_sets: int | None = None,  # K, Table VII (default: options.num_param_sets = 5)
        hidden: tuple[int, ...] = (400, 400, 400),  # Table VI
        activation: str = "relu",
        *,
        num_critics: int = 2,
        options: PaCoOptions | None = None,
        **network_fields,
    ):
        options = PaCoOptions() if options is None else options
        if not isinstance(options, PaCoOptions):
            raise ValueError(f"PaCoConfig.options must be a PaCoOptions, got {options!r}")
        unknown = sorted(set(network_fields) - set(NETWORK_FIELDS))
        if unknown:
            raise TypeError(
                f"PaCoConfig got unexpected keyword argument(s) {unknown}; network fields: {NETWORK_FIELDS}"
            )
        if num_param_sets is not None:
            network_fields["num_param_sets"] = num_param_sets
        net = {name: network_fields.get(name, getattr(options, name)) for name in NETWORK_FIELDS}
        options = PaCoOptions(**net)  # the network fields only: equal architectures compare (and hash) equal
        if not isinstance(hidden, tuple):
            hidden = tuple(hidden)
        for name, value in (
            ("obs_dim", obs_dim),
            ("action_dim", action_dim),
            ("num_skills", num_skills),
            ("num_critics", num_critics),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "hidden", hidden)
        object.__setattr__(self, "activation", activation)
        object.__setattr__(self, "options", options)
        for name in ("obs_dim", "action_dim", "num_skills", "num_critics"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PaCoConfig.{name} must be a positive int, got {value!r}")
        if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden):
            raise ValueError(f"PaCoConfig.hidden must be a tuple of positive ints, got {hidden!r}")
        if activation not in _networks.ACTIVATIONS:
            raise ValueError(f"PaCoConfig.activation must be one of {tuple(_networks.ACTIVATIONS)}, got {activation!r}")
        check_network_options(options, "PaCoConfig")


def _network_field(name: str) -> property:
    return property(lambda self: getattr(self.options, name), doc=f"``options.{name}`` (a network field).")


for _name in NETWORK_FIELDS:
    setattr(PaCoConfig, _name, _network_field(_name))
del _name


class PaCoActor(nn.Module):
    """``apply(params, obs (B,O), skill_id (B,)) -> (mean (B,A), log_std (B,A))``. Params: ``w (T,K)``, ``mlp``."""

    config: PaCoConfig

    @nn.compact
    def __call__(self, obs: jax.Array, skill_id: jax.Array) -> tuple[jax.Array, jax.Array]:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(skill_id, (obs.shape[0],))
        w = self.param("w", w_initializer(cfg.w_init), (cfg.num_skills, cfg.num_param_sets))
        out = PaCoMLP(
            cfg.hidden,
            2 * cfg.action_dim,
            cfg.num_param_sets,
            cfg.mix_mode,
            cfg.identical_init,
            cfg.activation,
            cfg.compositional_head,
            name="mlp",
        )(obs, w, skill_id)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, cfg.log_std_min, cfg.log_std_max)


class PaCoCritic(nn.Module):
    """``apply(params, obs (B,O), action (B,A), skill_id (B,)) -> q (E, B)``.

    Params: ``w (T,K)`` (one table for all E critics) and ``q`` (E independent compositional MLPs stacked
    on the leading axis of every parameter, evaluated with one vmapped call).
    """

    config: PaCoConfig

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array, skill_id: jax.Array) -> jax.Array:
        cfg = self.config
        chex.assert_shape(obs, (None, cfg.obs_dim))
        chex.assert_shape(action, (obs.shape[0], cfg.action_dim))
        chex.assert_shape(skill_id, (obs.shape[0],))
        w = self.param("w", w_initializer(cfg.w_init), (cfg.num_skills, cfg.num_param_sets))
        q = _networks.critic_ensemble(PaCoMLP, cfg.num_critics)(
            cfg.hidden,
            1,
            cfg.num_param_sets,
            cfg.mix_mode,
            cfg.identical_init,
            cfg.activation,
            cfg.compositional_head,
            name="q",
        )(jnp.concatenate([obs, action], axis=-1), w, skill_id)
        return q[..., 0]


def make_paco_networks(cfg: PaCoConfig) -> _networks.Networks:
    """PaCo actor / twin critic as a `jaxmeta.networks.Networks` (critic output ``(E, B)``).

    Plugs into `sac.make_sac` unchanged. Note: with ``cfg.share_w`` the actor and the critic each hold a
    copy of ``w`` which only `make_paco_sac` ties at init and merges after every update; plain
    ``sac.make_sac(config, make_paco_networks(cfg))`` behaves like ``share_w=False`` (two independent w).
    """
    return _networks.networks_from_modules(PaCoActor(cfg), PaCoCritic(cfg), cfg.obs_dim, cfg.action_dim)
