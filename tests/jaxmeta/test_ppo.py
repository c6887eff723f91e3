"""Tests for jaxmeta.agents.ppo: GAE (hand example, naive reference, truncation), clipped losses,
running normaliser, networks, config validation, and `update` (jit, shapes, determinism, learning)."""

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxmeta.agents.ppo import losses as L
from jaxmeta.agents.ppo import normalize as N
from jaxmeta.agents.ppo.networks import (
    clip_action,
    gaussian_entropy,
    gaussian_log_prob,
    make_ppo_networks,
    sample_gaussian,
)
from jaxmeta.agents.ppo.ppo import PPOConfig, PPOState, Rollout, make_ppo
from jaxmeta.networks import NetworkConfig

GAE_JIT = jax.jit(L.gae_advantages)


def _gae(*args, jit=False):
    fn = GAE_JIT if jit else L.gae_advantages
    return tuple(np.asarray(x) for x in fn(*(jnp.asarray(a) for a in args)))


def naive_gae(rewards, values, bootstrap, terminated, truncated, final_values, gamma, lam):
    """Direct GAE Eq. 16: A_t = sum_l (gamma lam)^l delta_{t+l} up to the episode end (double loop)."""
    t_len, n = rewards.shape
    adv = np.zeros((t_len, n))
    for i in range(n):

        def delta(t):
            if terminated[t, i]:
                nv = 0.0
            elif truncated[t, i]:
                nv = final_values[t, i]
            else:
                nv = values[t + 1, i] if t + 1 < t_len else bootstrap[i]
            return rewards[t, i] + gamma * nv - values[t, i]

        for t in range(t_len):
            total, coef = 0.0, 1.0
            for k in range(t, t_len):
                total += coef * delta(k)
                if terminated[k, i] or truncated[k, i]:
                    break
                coef *= gamma * lam
            adv[t, i] = total
    return adv


def naive_mc_return(rewards, bootstrap, terminated, truncated, final_values, gamma):
    """Discounted reward sum to the episode end, + gamma^k * (0 | final value | bootstrap value)."""
    t_len, n = rewards.shape
    out = np.zeros((t_len, n))
    for i in range(n):
        for t in range(t_len):
            total, coef, k = 0.0, 1.0, t
            while True:
                total += coef * rewards[k, i]
                coef *= gamma
                if terminated[k, i]:
                    break
                if truncated[k, i]:
                    total += coef * final_values[k, i]
                    break
                if k == t_len - 1:
                    total += coef * bootstrap[i]
                    break
                k += 1
            out[t, i] = total
    return out


@st.composite
def gae_inputs(draw):
    t_len, n = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    p_term, p_trunc = draw(st.sampled_from([0.0, 0.3])), draw(st.sampled_from([0.0, 0.3]))
    return dict(
        rewards=rng.normal(size=(t_len, n)).astype(np.float32),
        values=rng.normal(size=(t_len, n)).astype(np.float32),
        bootstrap=rng.normal(size=(n,)).astype(np.float32),
        terminated=rng.random((t_len, n)) < p_term,
        truncated=rng.random((t_len, n)) < p_trunc,
        final_values=rng.normal(size=(t_len, n)).astype(np.float32),
    )


def _args(d, gamma, lam):
    return (
        d["rewards"],
        d["values"],
        d["bootstrap"],
        d["terminated"],
        d["truncated"],
        d["final_values"],
        np.float32(gamma),
        np.float32(lam),
    )


# ------------------------------------------------------------------ GAE


def test_gae_hand_computed():
    """gamma = lam = 0.5 (gamma*lam = 0.25), rewards (1, 2, 3), values (0.5, 1, 1.5), bootstrap 2.

    env 0, no boundary:  delta = (1 + .5*1 - .5, 2 + .5*1.5 - 1, 3 + .5*2 - 1.5) = (1, 1.75, 2.5)
                         A_2 = 2.5, A_1 = 1.75 + .25*2.5 = 2.375, A_0 = 1 + .25*2.375 = 1.59375
    env 1, truncated at t=1 with final value 4 (values[2] = 1.5 is the auto-reset obs, not used):
                         delta_1 = 2 + .5*4 - 1 = 3, A = (1 + .25*3, 3, 2.5) = (1.75, 3, 2.5)
    env 2, terminated at t=1: delta_1 = 2 - 1 = 1, A = (1 + .25*1, 1, 2.5) = (1.25, 1, 2.5)
    """
    col = lambda *x: np.tile(np.asarray(x, np.float32)[:, None], (1, 3))
    rewards, values = col(1.0, 2.0, 3.0), col(0.5, 1.0, 1.5)
    truncated = np.zeros((3, 3), bool)
    terminated = np.zeros((3, 3), bool)
    truncated[1, 1] = terminated[1, 2] = True
    final_values = np.full((3, 3), np.nan, np.float32)  # read only where truncated
    final_values[1, 1] = 4.0
    expected = np.array([[1.59375, 1.75, 1.25], [2.375, 3.0, 1.0], [2.5, 2.5, 2.5]], np.float32)
    for jit in (False, True):
        adv, ret = _gae(
            rewards,
            values,
            np.full((3,), 2.0, np.float32),
            terminated,
            truncated,
            final_values,
            np.float32(0.5),
            np.float32(0.5),
            jit=jit,
        )
        np.testing.assert_array_equal(adv, expected)
        np.testing.assert_array_equal(ret, expected + values)


@given(d=gae_inputs(), gamma=st.floats(0.0, 1.0), lam=st.floats(0.0, 1.0), jit=st.booleans())
def test_gae_matches_naive_double_loop(d, gamma, lam, jit):
    adv, ret = _gae(*_args(d, gamma, lam), jit=jit)
    ref = naive_gae(
        d["rewards"],
        d["values"],
        d["bootstrap"],
        d["terminated"],
        d["truncated"],
        d["final_values"],
        np.float32(gamma),
        np.float32(lam),
    )
    np.testing.assert_allclose(adv, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, adv + d["values"], rtol=1e-6, atol=1e-6)


@given(d=gae_inputs(), gamma=st.floats(0.0, 1.0))
def test_gae_lambda_zero_is_one_step_td(d, gamma):
    adv, _ = _gae(*_args(d, gamma, 0.0), jit=True)
    following = np.concatenate([d["values"][1:], d["bootstrap"][None]])
    next_v = np.where(d["terminated"], 0.0, np.where(d["truncated"], d["final_values"], following))
    np.testing.assert_allclose(adv, d["rewards"] + np.float32(gamma) * next_v - d["values"], rtol=1e-5, atol=1e-5)


@given(d=gae_inputs(), gamma=st.floats(0.0, 1.0))
def test_gae_lambda_one_is_monte_carlo_minus_values(d, gamma):
    adv, ret = _gae(*_args(d, gamma, 1.0), jit=True)
    mc = naive_mc_return(
        d["rewards"], d["bootstrap"], d["terminated"], d["truncated"], d["final_values"], np.float32(gamma)
    )
    np.testing.assert_allclose(adv, mc - d["values"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ret, mc, rtol=1e-4, atol=1e-4)


def test_gae_truncation_bootstraps_from_final_obs_not_reset_obs():
    """At a truncation step the advantage depends on final_value and not on values[t+1] (reset obs)."""
    rng = np.random.default_rng(0)
    t_len, n, k = 5, 2, 2
    r, v = rng.normal(size=(t_len, n)).astype(np.float32), rng.normal(size=(t_len, n)).astype(np.float32)
    boot, fv = rng.normal(size=(n,)).astype(np.float32), rng.normal(size=(t_len, n)).astype(np.float32)
    trunc = np.zeros((t_len, n), bool)
    trunc[k] = True
    term = np.zeros((t_len, n), bool)
    g, lam = np.float32(0.9), np.float32(0.8)
    adv, _ = _gae(r, v, boot, term, trunc, fv, g, lam)
    np.testing.assert_allclose(adv[k], r[k] + g * fv[k] - v[k], rtol=1e-6)
    # the value of the auto-reset obs (values[k+1]) changes later advantages but none up to step k
    v2 = v.copy()
    v2[k + 1] += 100.0
    adv2, _ = _gae(r, v2, boot, term, trunc, fv, g, lam)
    np.testing.assert_array_equal(adv2[: k + 1], adv[: k + 1])
    # the final value moves steps <= k (through the lambda-recursion) and nothing after
    fv2 = fv.copy()
    fv2[k] += 1.0
    adv3, _ = _gae(r, v, boot, term, trunc, fv2, g, lam)
    np.testing.assert_allclose(
        adv3[: k + 1] - adv[: k + 1], (g * (g * lam) ** np.arange(k, -1, -1))[:, None] * np.ones((1, n)), rtol=1e-5
    )
    np.testing.assert_array_equal(adv3[k + 1 :], adv[k + 1 :])


def test_gae_terminal_ignores_everything_after():
    rng = np.random.default_rng(1)
    t_len, n, k = 4, 3, 1
    r, v = rng.normal(size=(t_len, n)).astype(np.float32), rng.normal(size=(t_len, n)).astype(np.float32)
    term = np.zeros((t_len, n), bool)
    term[k] = True
    trunc = term.copy()  # terminated wins over truncated: final_value unused
    fv = np.full((t_len, n), np.nan, np.float32)
    boot = rng.normal(size=(n,)).astype(np.float32)
    g, lam = np.float32(0.9), np.float32(0.7)
    adv, _ = _gae(r, v, boot, term, trunc, fv, g, lam)
    np.testing.assert_allclose(adv[k], r[k] - v[k], rtol=1e-6)
    np.testing.assert_allclose(adv[k - 1], r[k - 1] + g * v[k] - v[k - 1] + g * lam * adv[k], rtol=1e-5)
    assert np.all(np.isfinite(adv))
    v2 = v.copy()
    v2[k + 1 :] += 10.0
    r2 = r.copy()
    r2[k + 1 :] += 10.0
    adv2, _ = _gae(r2, v2, boot + 10.0, term, trunc, fv, g, lam)
    np.testing.assert_array_equal(adv2[: k + 1], adv[: k + 1])


def test_gae_rejects_bad_shapes():
    with pytest.raises(AssertionError):
        L.gae_advantages(
            jnp.zeros((3, 2)),
            jnp.zeros((3, 2)),
            jnp.zeros((3,)),
            jnp.zeros((3, 2)),
            jnp.zeros((3, 2)),
            jnp.zeros((3, 2)),
            0.9,
            0.9,
        )


# ------------------------------------------------------------------ clipped surrogate / value loss


def _surrogate_grad(ratio, adv, eps=0.2):
    old = jnp.zeros((1,))
    return float(
        jax.grad(lambda lp: L.clipped_surrogate_loss(lp, old, jnp.array([adv]), eps))(jnp.log(jnp.array([ratio])))[0]
    )


@pytest.mark.parametrize(
    "ratio, adv, zero",
    [
        (1.5, 1.0, True),  # A > 0, ratio above 1 + eps: no more incentive to increase
        (0.5, -1.0, True),  # A < 0, ratio below 1 - eps: no more incentive to decrease
        (1.5, -1.0, False),  # A < 0, ratio above 1 + eps: the pessimistic bound still pulls it back
        (0.5, 1.0, False),  # A > 0, ratio below 1 - eps: still pushed up
        (1.1, 1.0, False),
        (0.9, -1.0, False),  # inside the clip range
    ],
)
def test_clipped_surrogate_gradient_zero_outside_clip_range(ratio, adv, zero):
    g = _surrogate_grad(ratio, adv)
    if zero:
        assert g == 0.0
    else:
        # d(-r A)/d(log r) = -r A: minimising moves log_prob in the direction of A
        np.testing.assert_allclose(g, -ratio * adv, rtol=1e-5)


@given(seed=st.integers(0, 2**16), b=st.sampled_from([1, 7, 16]), eps=st.floats(0.01, 0.5))
def test_clipped_surrogate_equals_unclipped_at_ratio_one(seed, b, eps):
    k1, k2 = jax.random.split(jax.random.key(seed))
    lp, adv = jax.random.normal(k1, (b,)), jax.random.normal(k2, (b,))
    clipped = lambda x: L.clipped_surrogate_loss(x, lp, adv, eps)
    unclipped = lambda x: -jnp.mean(jnp.exp(x - lp) * adv)
    np.testing.assert_allclose(clipped(lp), -jnp.mean(adv), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jax.grad(clipped)(lp), jax.grad(unclipped)(lp), rtol=1e-6, atol=1e-7)
    assert float(L.approx_kl(lp, lp)) == 0.0 and float(L.clip_fraction(lp, lp, eps)) == 0.0


def test_clipped_surrogate_matches_formula_and_metrics():
    old = jnp.zeros((4,))
    ratio = jnp.array([0.5, 0.9, 1.1, 1.5])
    adv = jnp.array([1.0, -2.0, 3.0, -1.0])
    lp = jnp.log(ratio)
    expected = -np.mean(np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv))
    np.testing.assert_allclose(L.clipped_surrogate_loss(lp, old, adv, 0.2), expected, rtol=1e-6)
    np.testing.assert_allclose(L.clip_fraction(lp, old, 0.2), 0.5)
    kl = np.mean((ratio - 1) - np.log(ratio))
    np.testing.assert_allclose(L.approx_kl(lp, old), kl, rtol=1e-5)
    assert float(L.approx_kl(lp, old)) > 0


def test_value_loss_clipped_and_unclipped():
    v, old, ret = jnp.array([1.0, 0.0, 2.0]), jnp.array([0.0, 0.0, 1.9]), jnp.array([2.0, -1.0, 0.0])
    np.testing.assert_allclose(L.value_loss(v, old, ret), 0.5 * np.mean((v - ret) ** 2))
    vc = np.asarray(old) + np.clip(np.asarray(v - old), -0.2, 0.2)
    expected = 0.5 * np.mean(np.maximum((v - ret) ** 2, (vc - ret) ** 2))
    np.testing.assert_allclose(L.value_loss(v, old, ret, 0.2), expected, rtol=1e-6)
    # sample 0 moved 1.0 > 0.2 away from old towards the target: clipped branch is worse -> no gradient
    g = jax.grad(lambda x: L.value_loss(x, old, ret, 0.2))(v)
    assert float(g[0]) == 0.0 and float(g[1]) != 0.0
    total = L.ppo_total_loss(jnp.array(1.0), jnp.array(2.0), jnp.array([3.0, 5.0]), 0.5, 0.1)
    np.testing.assert_allclose(total, 1.0 + 0.5 * 2.0 - 0.1 * 4.0, rtol=1e-6)


def test_normalize_advantages_and_explained_variance():
    x = jnp.array([1.0, 2.0, 3.0, 6.0])
    z = L.normalize_advantages(x)
    np.testing.assert_allclose([jnp.mean(z), jnp.std(z)], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(L.explained_variance(x, x), 1.0)
    np.testing.assert_allclose(L.explained_variance(jnp.zeros(4), x), 0.0, atol=1e-6)
    assert float(L.explained_variance(x, jnp.ones(4))) == 0.0


# ------------------------------------------------------------------ normaliser


@given(
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
)
def test_running_stats_equal_numpy_on_concatenation(sizes, seed, scale):
    rng = np.random.default_rng(seed)
    batches = [(rng.normal(size=(s, 3)) * scale + rng.normal(size=3) * scale).astype(np.float32) for s in sizes]
    update = jax.jit(N.update)
    stats = N.init(3)
    for batch in batches:
        stats = update(stats, jnp.asarray(batch))
    allx = np.concatenate(batches).astype(np.float64)
    assert float(stats.count) == len(allx)
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_allclose(N.variance(stats), allx.var(0), rtol=1e-3, atol=1e-5 * scale**2)


def test_running_stats_vmap_independent_slices_and_leading_axes():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(4, 2, 5, 3)).astype(np.float32) * np.arange(1, 5)[:, None, None, None]
    stats = jax.vmap(lambda _: N.init(3))(jnp.arange(4))  # 4 independent normalisers
    upd = jax.jit(jax.vmap(N.update))
    for j in range(2):
        stats = upd(stats, jnp.asarray(data[:, j]))
    for i in range(4):
        flat = data[i].reshape(-1, 3)
        np.testing.assert_allclose(stats.mean[i], flat.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(N.variance(jax.tree.map(lambda x: x[i], stats)), flat.var(0), rtol=1e-4)
    # leading axes are samples: one (2, 5, 3) batch == the two (5, 3) batches
    one = N.update(N.init(3), jnp.asarray(data[0]))
    np.testing.assert_allclose(one.mean, stats.mean[0], rtol=1e-6)
    with pytest.raises(ValueError, match="batch shape"):
        N.update(N.init(3), jnp.zeros((5, 4)))


def test_normalize_identity_before_data_and_clips():
    x = jnp.array([[1.0, -50.0, 3.0]])
    np.testing.assert_array_equal(N.normalize(N.init(3), x), jnp.array([[1.0, -10.0, 3.0]]))
    np.testing.assert_array_equal(N.normalize(N.init(3), x, clip=None), x)
    stats = N.update(N.init(3), jnp.array([[0.0, 0.0, 5.0], [2.0, 4.0, 5.0]]))  # mean (1, 2, 5), var (1, 4, 0)
    z = jax.jit(N.normalize)(stats, jnp.array([[3.0, 0.0, 5.0]]))
    np.testing.assert_allclose(z, [[2.0, -1.0, 0.0]], rtol=1e-6)  # constant feature -> 0, no NaN


# ------------------------------------------------------------------ networks

O, A, K = 3, 2, 2
NET_CFG = NetworkConfig(obs_dim=O, action_dim=A, num_skills=K, hidden=(16,), activation="tanh")


def test_gaussian_log_prob_entropy_and_sampling():
    mean, log_std = jnp.array([[0.5, -1.0]]), jnp.array([[0.0, math.log(2.0)]])
    a = jnp.array([[1.5, 1.0]])
    expected = sum(
        -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        for x, m, s in ((1.5, 0.5, 1.0), (1.0, -1.0, 2.0))
    )
    np.testing.assert_allclose(gaussian_log_prob(mean, log_std, a), [expected], rtol=1e-6)
    np.testing.assert_allclose(gaussian_entropy(log_std), [math.log(2.0) + math.log(2 * math.pi * math.e)], rtol=1e-6)
    big_mean, big_ls = jnp.zeros((20000, 2)), jnp.full((20000, 2), math.log(0.5))
    sample, lp = sample_gaussian(big_mean, big_ls, jax.random.key(0))
    np.testing.assert_allclose(np.std(sample, 0), [0.5, 0.5], rtol=0.03)
    np.testing.assert_allclose(-np.mean(lp), gaussian_entropy(big_ls)[0], rtol=0.02)  # E[-log p] = H
    np.testing.assert_array_equal(clip_action(jnp.array([-3.0, 0.25, 7.0])), [-1.0, 0.25, 1.0])


@pytest.mark.parametrize("conditioning", ["onehot", "multihead"])
def test_networks_shapes_and_per_skill_log_std(conditioning):
    nets = make_ppo_networks(
        NetworkConfig(obs_dim=O, action_dim=A, num_skills=K, hidden=(8,), conditioning=conditioning), init_log_std=-0.5
    )
    pp, vp = nets.policy_init(jax.random.key(0)), nets.value_init(jax.random.key(1))
    assert pp["params"]["log_std"].shape == (K, A)
    pp["params"]["log_std"] = pp["params"]["log_std"].at[1].set(-1.0)
    obs, tid = jnp.zeros((4, O)), jnp.array([0, 1, 0, 1], jnp.int32)
    mean, log_std = nets.policy_apply(pp, obs, tid)
    assert mean.shape == (4, A) and nets.value_apply(vp, obs, tid).shape == (4,)
    np.testing.assert_array_equal(log_std, np.where(np.asarray(tid)[:, None] == 0, -0.5, -1.0) * np.ones((1, A)))
    with pytest.raises(ValueError, match="init_log_std"):
        make_ppo_networks(NET_CFG, init_log_std=5.0)


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_skills", 0),
        ("discount", 1.5),
        ("gae_lambda", -0.1),
        ("clip_eps", 0.0),
        ("value_clip_eps", -1.0),
        ("value_coef", -0.5),
        ("entropy_coef", float("nan")),
        ("learning_rate", 0.0),
        ("adam_eps", -1e-5),
        ("anneal_updates", 0),
        ("num_epochs", 0),
        ("num_minibatches", 2.0),
        ("max_grad_norm", 0.0),
        ("normalize_advantages", 1),
        ("normalize_obs", "yes"),
        ("obs_clip", float("inf")),
        ("reward_scale", 0.0),
        ("discount", True),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=f"PPOConfig.{field}"):
        PPOConfig(**{field: value})


def test_config_accepts_none_where_documented():
    PPOConfig(value_clip_eps=None, max_grad_norm=None, obs_clip=None, anneal_updates=None)


# ------------------------------------------------------------------ update

TN, NE = 8, 32  # rollout steps x envs (a 1-step bandit: every step terminates)
TARGET = jnp.array([0.5, -0.5])  # best action per task
NETS = make_ppo_networks(NET_CFG)


def bandit_reward(action, skill_id):
    return jnp.exp(-(((clip_action(action)[..., 0] - TARGET[skill_id]) / 0.25) ** 2))


def collect(ppo, state, key):
    """A jax-only synthetic rollout: obs ~ N(1, 2^2) (exercises normalisation), task = env % K."""

    def step(_, k):
        k_obs, k_act = jax.random.split(k)
        obs = 1.0 + 2.0 * jax.random.normal(k_obs, (NE, O))
        skill_id = jnp.arange(NE, dtype=jnp.int32) % K
        action, log_prob, value = ppo.act(state, obs, skill_id, k_act)
        done = jnp.ones((NE,), bool)
        return None, Rollout(
            obs=obs,
            action=action,
            log_prob=log_prob,
            value=value,
            reward=bandit_reward(action, skill_id),
            terminated=done,
            truncated=~done,
            final_value=jnp.zeros((NE,)),
            bootstrap_value=jnp.zeros((NE,)),
            skill_id=skill_id,
        )

    _, rollout = jax.lax.scan(step, None, jax.random.split(key, TN))
    return rollout.replace(bootstrap_value=rollout.bootstrap_value[-1])


@functools.lru_cache(maxsize=None)
def _setup(**overrides):
    cfg = PPOConfig(num_skills=K, num_epochs=4, num_minibatches=4, learning_rate=1e-2, **overrides)
    ppo = make_ppo(cfg, NETS)
    return ppo, jax.jit(ppo.update), jax.jit(functools.partial(collect, ppo))


def _assert_trees_equal(a, b):
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_update_jit_shapes_and_determinism():
    ppo, update, coll = _setup()
    state = ppo.init(jax.random.key(0))
    rollout = coll(state, jax.random.key(1))
    assert rollout.obs.shape == (TN, NE, O) and rollout.action.shape == (TN, NE, A)
    new, metrics = update(state, rollout, jax.random.key(2))
    assert isinstance(new, PPOState) and int(new.step) == 1
    assert jax.tree.structure(new) == jax.tree.structure(state)
    jax.tree.map(lambda x, y: (x.shape, x.dtype) == (y.shape, y.dtype) or pytest.fail("shape"), new, state)
    assert float(new.obs_stats.count) == TN * NE
    assert all(np.all(np.isfinite(v)) for v in metrics.values())
    assert metrics["reward_mean_per_skill"].shape == (K,)
    assert all(np.ndim(v) == 0 for k, v in metrics.items() if not k.endswith("per_skill"))
    again, metrics2 = update(state, rollout, jax.random.key(2))
    _assert_trees_equal((new, metrics), (again, metrics2))
    other, _ = update(state, rollout, jax.random.key(3))  # other minibatch order -> other params
    assert not np.array_equal(
        other.params["policy"]["params"]["mlp"]["head"]["kernel"],
        new.params["policy"]["params"]["mlp"]["head"]["kernel"],
    )
    a, lp, v = jax.jit(ppo.act)(new, rollout.obs[0], rollout.skill_id[0], jax.random.key(4))
    assert a.shape == (NE, A) and lp.shape == v.shape == (NE,)
    det = ppo.deterministic_action(new, rollout.obs[0], rollout.skill_id[0])
    assert det.shape == (NE, A) and np.all(np.abs(det) <= 1.0)
    np.testing.assert_allclose(
        ppo.value(new, rollout.obs[0], rollout.skill_id[0]), ppo.value(new, rollout.obs[0], rollout.skill_id[0])
    )


def test_update_ratio_is_one_before_the_first_step():
    """With learning rate 0 every minibatch sees the collection policy: KL and clip fraction are 0, which
    also checks that the losses normalise observations with the statistics the rollout was taken with."""
    ppo, update, coll = _setup(anneal_updates=1)
    state = ppo.init(jax.random.key(0)).replace(step=jnp.ones((), jnp.int32))  # annealed: lr = 0
    state = state.replace(obs_stats=N.update(state.obs_stats, jnp.ones((4, O)) * 3.0 + jnp.arange(4.0)[:, None]))
    rollout = coll(state, jax.random.key(1))
    new, metrics = update(state, rollout, jax.random.key(2))
    assert float(metrics["learning_rate"]) == 0.0
    np.testing.assert_allclose(metrics["approx_kl"], 0.0, atol=1e-6)
    assert float(metrics["clip_fraction"]) == 0.0
    _assert_trees_equal(new.params, state.params)


def test_update_rejects_indivisible_minibatches():
    ppo, _, coll = _setup()
    state = ppo.init(jax.random.key(0))
    rollout = coll(state, jax.random.key(1))
    short = jax.tree.map(lambda x: x[:, :30] if x.ndim >= 2 else x[:30], rollout)  # 8 * 30 = 240, 240 % 4 == 0
    ppo_odd = make_ppo(PPOConfig(num_skills=K, num_minibatches=7), NETS)
    with pytest.raises(ValueError, match="num_minibatches"):
        ppo_odd.update(state, short, jax.random.key(2))


def test_update_learns_task_conditioned_bandit():
    """Two tasks whose best actions are +0.5 and -0.5. From a N(~0, 1) policy the expected reward is
    ~0.15; 30 updates bring it above 0.7 for each task (a flipped gradient sign drives it to ~0.01)."""
    ppo, update, coll = _setup()

    @jax.jit
    def train(state, key):
        def body(state, k):
            k1, k2 = jax.random.split(k)
            return update(state, coll(state, k1), k2)

        return jax.lax.scan(body, state, jax.random.split(key, 30))

    @jax.jit
    def per_skill_reward(state):  # Monte-Carlo estimate over 4 * TN * NE / K samples per task
        rewards = jax.vmap(lambda k: coll(state, k).reward)(jax.random.split(jax.random.key(99), 4))
        return rewards.reshape(-1, NE // K, K).mean((0, 1))

    state = ppo.init(jax.random.key(0))
    before = per_skill_reward(state)
    state, metrics = train(state, jax.random.key(1))
    after = per_skill_reward(state)
    assert np.all(before < 0.3), before
    assert np.all(after > 0.7) and np.all(after > before + 0.4), (before, after)
    det = ppo.deterministic_action(state, jnp.ones((K, O)), jnp.arange(K, dtype=jnp.int32))[:, 0]
    np.testing.assert_allclose(det, TARGET, atol=0.15)
    assert float(metrics["entropy"][-1]) < float(metrics["entropy"][0])  # std shrinks around the optimum
