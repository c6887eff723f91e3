"""jaxmeta.agents.rl2: the recurrent net's reset, the sequence unroll reproducing the collection's
log-probabilities (ratio 1 before the first step), errors, and RL2 learning a task it must infer from its
trial's rewards (a memoryless policy cannot)."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta.agents.ppo.options import PPOConfig
from jaxmeta.agents.rl2.networks import RL2NetConfig, make_rl2_networks
from jaxmeta.agents.rl2.rl2 import RecurrentRollout, make_rl2

NET = RL2NetConfig(obs_dim=1, action_dim=1, hidden=32, gru=32)


def test_reset_zeroes_the_hidden_state():
    nets = make_rl2_networks(NET)
    x = jnp.ones((3, NET.input_dim))
    h = jax.random.normal(jax.random.PRNGKey(1), (3, NET.gru))
    rl2 = make_rl2(PPOConfig(normalize_obs=False), nets)
    state = rl2.init(jax.random.PRNGKey(0))
    args = (x[:, :1], x[:, 1:2], x[:, 2], x[:, 3] > 0)
    h_reset, a_reset = rl2.deterministic_action(state, h, *args, jnp.ones(3, bool))
    h_zero, a_zero = rl2.deterministic_action(state, jnp.zeros_like(h), *args, jnp.zeros(3, bool))
    np.testing.assert_array_equal(h_reset, h_zero)
    np.testing.assert_array_equal(a_reset, a_zero)
    _, a_kept = rl2.deterministic_action(state, h, *args, jnp.zeros(3, bool))
    assert not np.allclose(a_kept, a_zero)
    with pytest.raises(ValueError, match="init_log_std must be in"):
        RL2NetConfig(init_log_std=5.0)


# ----------------------------------------------------------------------- a task to infer from rewards
TRIAL = 8  # steps per trial (one episode each)


def collect(rl2, state, carry, key, T: int):
    """T steps of N envs on the hidden-target task: reward -(a - g)^2 with g = +-0.8 drawn per trial;
    the observation is constant, so only the trial's history tells g."""

    def step(c, k):
        h, g, prev_a, prev_r, prev_d, t = c
        k_act, k_g = jax.random.split(k)
        reset = t == 0
        prev_a, prev_r, prev_d = (
            jnp.where(reset[:, None], 0.0, prev_a),
            jnp.where(reset, 0.0, prev_r),
            prev_d & ~reset,
        )
        obs = jnp.ones((g.shape[0], 1))
        h2, a, logp, v = rl2.act(state, h, obs, prev_a, prev_r, prev_d, reset, k_act)
        r = -((jnp.clip(a[:, 0], -1, 1) - g) ** 2)
        end = t == TRIAL - 1
        row = dict(
            obs=obs,
            prev_action=prev_a,
            prev_reward=prev_r,
            prev_done=prev_d,
            reset=reset,
            action=a,
            log_prob=logp,
            value=v,
            reward=r,
            trial_end=end,
            h=h,
        )
        g_new = jnp.where(jax.random.bernoulli(k_g, 0.5, g.shape), 0.8, -0.8)
        nxt = (h2, jnp.where(end, g_new, g), jnp.clip(a, -1, 1), r, end, jnp.where(end, 0, t + 1))
        return nxt, row

    carry2, rows = jax.lax.scan(step, carry, jax.random.split(key, T))
    h_last, g, prev_a, prev_r, prev_d, t = carry2
    obs = jnp.ones((g.shape[0], 1))
    reset = t == 0
    _, _, _, boot = rl2.act(state, h_last, obs, prev_a, prev_r, prev_d, reset, key)
    h0 = rows.pop("h")[0]
    return carry2, RecurrentRollout(bootstrap_value=boot, h0=h0, **rows)


def _start(rl2, n, key):
    g = jnp.where(jax.random.bernoulli(key, 0.5, (n,)), 0.8, -0.8)
    return (rl2.initial_hidden(n), g, jnp.zeros((n, 1)), jnp.zeros(n), jnp.zeros(n, bool), jnp.zeros(n, jnp.int32))


def test_the_unroll_reproduces_the_collected_log_probs():
    """Before the first Adam step the ratio is exactly 1 (approx_kl 0 up to float error), also across a
    rollout that starts mid-trial (h0) and crosses trial resets."""
    cfg = PPOConfig(num_epochs=1, num_minibatches=1, learning_rate=1e-12, normalize_obs=False)
    rl2 = make_rl2(cfg, make_rl2_networks(NET))
    state = rl2.init(jax.random.PRNGKey(0))
    carry = _start(rl2, 6, jax.random.PRNGKey(1))
    carry, _ = collect(rl2, state, carry, jax.random.PRNGKey(2), 5)  # mid-trial: h0 != 0
    _, ro = collect(rl2, state, carry, jax.random.PRNGKey(3), 12)
    assert float(jnp.abs(ro.h0).max()) > 0 and bool(ro.reset.any())
    _, m = jax.jit(rl2.update)(state, ro, jax.random.PRNGKey(4))
    assert abs(float(m["approx_kl"])) < 1e-6 and float(m["clip_fraction"]) == 0.0
    with pytest.raises(ValueError, match="6 envs do not split into PPOConfig.num_minibatches = 4"):
        make_rl2(PPOConfig(num_minibatches=4), make_rl2_networks(NET)).update(state, ro, jax.random.PRNGKey(4))


def test_rl2_infers_the_task_from_its_trial():
    """The target g = +-0.8 is drawn per trial and seen only through rewards: after training, the second
    half of each trial earns far more than the best action that ignores the trial's history (0: -0.64 per
    step) and than the untrained policy (about -1.1)."""
    n, T = 64, 2 * TRIAL
    cfg = PPOConfig(num_epochs=4, num_minibatches=4, learning_rate=3e-3, discount=0.9, normalize_obs=False)
    rl2 = make_rl2(cfg, make_rl2_networks(NET))

    @jax.jit
    def iteration(state, carry, key):
        k1, k2 = jax.random.split(key)
        carry, ro = collect(rl2, state, carry, k1, T)
        state, m = rl2.update(state, ro, k2)
        second_half = (jnp.arange(T) % TRIAL >= TRIAL // 2)[:, None]
        return state, carry, jnp.nanmean(jnp.where(second_half, ro.reward, jnp.nan)), m

    state = rl2.init(jax.random.PRNGKey(0))
    carry = _start(rl2, n, jax.random.PRNGKey(1))
    keys = jax.random.split(jax.random.PRNGKey(2), 40)
    late = []
    for k in keys:
        state, carry, r, m = iteration(state, carry, k)
        late.append(float(r))
    assert np.isfinite(float(m["policy_loss"]))
    assert late[0] < -0.8  # the untrained (noisy) policy
    assert np.mean(late[-10:]) > -0.2, late
