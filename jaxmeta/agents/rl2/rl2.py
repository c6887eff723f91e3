"""RL2 (Duan et al. 2016) trained with recurrent PPO, as pure functions: `make_rl2(config, networks) -> RL2`.

Conventions (``T`` rollout steps, ``N`` envs, ``O`` obs_dim, ``A`` action_dim, ``H`` GRU width):

- A trial is several episodes of one task; the GRU's hidden state carries over its episodes and is zeroed
  at its first step (``reset``), whose previous action / reward / done inputs are zeros. For the
  advantage estimate a trial is one meta-episode (RL2 Sec. 2.2): episode ends inside it are not
  boundaries, and its last step is terminal (``trial_end``: the meta-episode's future is worth 0).
- `RecurrentRollout` is time-major ``(T, N, ...)``, collected with `RL2.act` from one fixed `RL2State`;
  ``h0 (N, H)`` is the hidden state before step 0 (before step 0's ``reset``).
- `update(state, rollout, key)`: advantages by GAE (`jaxmeta.agents.ppo.losses.gae_advantages` with
  ``terminated = trial_end``); then ``num_epochs`` epochs, each a random permutation of the *envs* split
  into ``num_minibatches`` groups (whole sequences, so the GRU is unrolled from ``h0`` over the ``T``
  steps: truncated back-propagation through time over the rollout); per group one Adam step on the PPO
  objective (Eq. 9: clipped surrogate Eq. 7, value loss, entropy bonus) with the `PPOConfig` settings
  (advantage normalisation per minibatch, global-norm clip, learning-rate annealing). Observations are
  normalised with the state's running statistics, merged with the rollout's afterwards. ``N`` must be
  divisible by ``num_minibatches``.
- metrics: as `jaxmeta.agents.ppo.ppo` (scalars, means over the minibatch steps and the rollout).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmeta.agents.ppo import losses as L
from jaxmeta.agents.ppo import normalize as N
from jaxmeta.agents.ppo.networks import gaussian_entropy, gaussian_log_prob, sample_gaussian
from jaxmeta.agents.ppo.options import PPOConfig
from jaxmeta.agents.ppo.ppo import learning_rate, make_optimizer
from jaxmeta.agents.rl2.networks import RL2Networks, inputs

__all__ = ["RL2", "RL2State", "RecurrentRollout", "make_rl2"]

Params = Any
Metrics = dict[str, jax.Array]


@struct.dataclass
class RecurrentRollout:
    """obs (T,N,O) raw; prev_action (T,N,A), prev_reward (T,N), prev_done (T,N) bool: the inputs of step t
    (zeros where ``reset``); reset (T,N) bool: h is zeroed before step t; action (T,N,A) raw sample;
    log_prob, value, reward (T,N); trial_end (T,N) bool; bootstrap_value (N,): V after step T-1 (unused
    where it ends its trial); h0 (N,H)."""

    obs: jax.Array
    prev_action: jax.Array
    prev_reward: jax.Array
    prev_done: jax.Array
    reset: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    trial_end: jax.Array
    bootstrap_value: jax.Array
    h0: jax.Array


@struct.dataclass
class RL2State:
    params: Params
    opt_state: optax.OptState
    obs_stats: N.RunningStats  # (O,)
    step: jax.Array  # () int32, `update` calls done


class RL2(NamedTuple):
    """init(key) -> RL2State; initial_hidden(n) -> (n, H) zeros;
    act(state, h, obs, prev_action, prev_reward, prev_done, reset, key) -> (h', action raw, log_prob, value);
    deterministic_action(state, h, obs, prev_action, prev_reward, prev_done, reset) -> (h', clip(mean));
    update(state, rollout, key) -> (state, metrics)."""

    init: Callable[[jax.Array], RL2State]
    initial_hidden: Callable[[int], jax.Array]
    act: Callable[..., tuple[jax.Array, jax.Array, jax.Array, jax.Array]]
    deterministic_action: Callable[..., tuple[jax.Array, jax.Array]]
    update: Callable[[RL2State, RecurrentRollout, jax.Array], tuple[RL2State, Metrics]]


def make_rl2(config: PPOConfig, networks: RL2Networks) -> RL2:
    net = networks.config
    optimizer = make_optimizer(config)

    def norm_obs(stats, obs):
        return N.normalize(stats, obs, clip=config.obs_clip) if config.normalize_obs else obs

    def init(key: jax.Array) -> RL2State:
        params = networks.init(key)
        return RL2State(
            params=params,
            opt_state=optimizer.init(params),
            obs_stats=N.init(net.obs_dim),
            step=jnp.zeros((), jnp.int32),
        )

    def initial_hidden(n: int) -> jax.Array:
        return jnp.zeros((n, net.gru), jnp.float32)

    def forward(params, stats, h, obs, prev_action, prev_reward, prev_done, reset):
        h = jnp.where(reset[:, None], 0.0, h)
        x = inputs(norm_obs(stats, obs), prev_action, prev_reward, prev_done)
        return networks.step(params, h, x)

    def act(state: RL2State, h, obs, prev_action, prev_reward, prev_done, reset, key):
        h, mean, log_std, value = forward(
            state.params, state.obs_stats, h, obs, prev_action, prev_reward, prev_done, reset
        )
        action, log_prob = sample_gaussian(mean, log_std, key)
        return h, action, log_prob, value

    def deterministic_action(state: RL2State, h, obs, prev_action, prev_reward, prev_done, reset):
        h, mean, _, _ = forward(state.params, state.obs_stats, h, obs, prev_action, prev_reward, prev_done, reset)
        return h, jnp.clip(mean, -1.0, 1.0)

    def unroll(params, stats, seq):
        """The rollout's (T, n) sequences from ``seq["h0"]``: log_prob (T,n) of the stored actions, value, entropy."""

        def body(h, t):
            h, mean, log_std, value = forward(
                params, stats, h, t["obs"], t["prev_action"], t["prev_reward"], t["prev_done"], t["reset"]
            )
            return h, (gaussian_log_prob(mean, log_std, t["action"]), value, gaussian_entropy(log_std))

        steps = {k: v for k, v in seq.items() if k != "h0"}
        _, out = jax.lax.scan(body, seq["h0"], steps)
        return out

    def loss_fn(params, stats, mb):
        log_prob, values, entropy = unroll(params, stats, mb["seq"])
        adv = L.normalize_advantages(mb["advantage"].reshape(-1))
        adv = adv if config.normalize_advantages else mb["advantage"].reshape(-1)
        flat = lambda x: x.reshape(-1)  # noqa: E731
        old = flat(mb["seq"]["log_prob"])
        pg = L.clipped_surrogate_loss(flat(log_prob), old, adv, config.clip_eps)
        vf = L.value_loss(flat(values), flat(mb["seq"]["value"]), flat(mb["return"]), config.value_clip_eps)
        total = L.ppo_total_loss(pg, vf, flat(entropy), config.value_coef, config.entropy_coef)
        return total, {
            "policy_loss": pg,
            "value_loss": vf,
            "entropy": jnp.mean(entropy),
            "total_loss": total,
            "approx_kl": L.approx_kl(flat(log_prob), old),
            "clip_fraction": L.clip_fraction(flat(log_prob), old, config.clip_eps),
        }

    def update(state: RL2State, rollout: RecurrentRollout, key: jax.Array) -> tuple[RL2State, Metrics]:
        chex.assert_rank(rollout.reward, 2)
        T, n = rollout.reward.shape
        chex.assert_shape(rollout.h0, (n, net.gru))
        chex.assert_shape([rollout.log_prob, rollout.value, rollout.reset, rollout.trial_end], (T, n))
        if n % config.num_minibatches:
            raise ValueError(
                f"RL2.update: {n} envs do not split into PPOConfig.num_minibatches = {config.num_minibatches} "
                f"equal groups of whole sequences"
            )
        m = n // config.num_minibatches
        zeros = jnp.zeros((T, n), jnp.float32)
        advantage, returns = L.gae_advantages(
            config.reward_scale * rollout.reward,
            rollout.value,
            rollout.bootstrap_value,
            rollout.trial_end,
            jnp.zeros((T, n), bool),
            zeros,
            config.discount,
            config.gae_lambda,
        )
        seq = {
            "obs": rollout.obs,
            "prev_action": rollout.prev_action,
            "prev_reward": rollout.prev_reward,
            "prev_done": rollout.prev_done,
            "reset": rollout.reset,
            "action": rollout.action,
            "log_prob": rollout.log_prob,
            "value": rollout.value,
        }
        lr = learning_rate(config, state.step)

        def sgd_step(carry, mb):
            params, opt_state = carry
            grads, aux = jax.grad(loss_fn, has_aux=True)(params, state.obs_stats, mb)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
            return (params, opt_state), {**aux, "grad_norm": optax.global_norm(grads), "learning_rate": lr}

        def epoch(carry, epoch_key):
            perm = jax.random.permutation(epoch_key, n).reshape(config.num_minibatches, m)
            mbs = {
                "seq": {k: jnp.moveaxis(v[:, perm], 1, 0) for k, v in seq.items()} | {"h0": rollout.h0[perm]},
                "advantage": jnp.moveaxis(advantage[:, perm], 1, 0),
                "return": jnp.moveaxis(returns[:, perm], 1, 0),
            }
            return jax.lax.scan(sgd_step, carry, mbs)

        (params, opt_state), aux = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(key, config.num_epochs)
        )
        stats = N.update(state.obs_stats, rollout.obs) if config.normalize_obs else state.obs_stats
        metrics = {k: jnp.mean(v) for k, v in aux.items()}
        metrics.update(L.rollout_metrics(advantage, returns, rollout.value, rollout.reward))
        return RL2State(params=params, opt_state=opt_state, obs_stats=stats, step=state.step + 1), metrics

    return RL2(
        init=init, initial_hidden=initial_hidden, act=act, deterministic_action=deterministic_action, update=update
    )
