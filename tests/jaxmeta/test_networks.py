"""Tests for jaxmeta.networks: config validation, tanh-Gaussian, conditioning, twin critic."""

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxmeta import networks as nw
from jaxmeta.networks import NetworkConfig, make_networks

O, A, T, B = 5, 3, 4, 8
HIDDEN = (32, 32)


def _cfg(conditioning="onehot", **kw):
    return NetworkConfig(obs_dim=O, action_dim=A, num_skills=T, hidden=HIDDEN, conditioning=conditioning, **kw)


NETS = {c: make_networks(_cfg(c)) for c in ("onehot", "multihead")}
PARAMS = {c: (n.actor_init(jax.random.key(0)), n.critic_init(jax.random.key(1))) for c, n in NETS.items()}
OBS = jax.random.normal(jax.random.key(2), (B, O))
ACT = jax.random.uniform(jax.random.key(3), (B, A), minval=-1.0, maxval=1.0)
TASK = jnp.arange(B, dtype=jnp.int32) % T


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    "field, value",
    [
        ("obs_dim", 0),
        ("action_dim", -1),
        ("num_skills", 0),
        ("num_skills", 2.0),
        ("hidden", (32, 0)),
        ("conditioning", "film"),
        ("activation", "sigmoidish"),
        ("log_std_min", 3.0),
        ("log_std_max", float("inf")),
        ("layer_norm", "actor"),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        NetworkConfig(**{field: value})


def test_config_defaults_and_list_hidden():
    cfg = NetworkConfig()
    assert (cfg.obs_dim, cfg.action_dim, cfg.hidden, cfg.conditioning) == (39, 4, (400, 400, 400), "onehot")
    cfg = NetworkConfig(hidden=[16, 16])
    assert cfg.hidden == (16, 16) and hash(cfg) == hash(dataclasses.replace(cfg))


# ------------------------------------------------------------------ tanh-Gaussian

_sample = jax.jit(nw.sample_tanh_gaussian)


def _reference_log_prob(mean, log_std, u):
    """float64 numpy: log N(u; mean, std) - sum log(d tanh(u)/du), d tanh/du = 1/cosh(u)^2."""
    mean, log_std, u = (np.asarray(x, np.float64) for x in (mean, log_std, u))
    std = np.exp(log_std)
    log_normal = -0.5 * ((u - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    log_jac = -2.0 * np.log(np.cosh(u))
    return np.sum(log_normal - log_jac, axis=-1)


@given(seed=st.integers(0, 2**31 - 1), mean_scale=st.floats(0.0, 5.0), log_std_lo=st.floats(-5.0, 1.0))
def test_tanh_gaussian_log_prob_matches_change_of_variables(seed, mean_scale, log_std_lo):
    rng = np.random.default_rng(seed)
    mean = jnp.asarray(rng.normal(size=(B, A)) * mean_scale, jnp.float32)
    log_std = jnp.asarray(rng.uniform(log_std_lo, log_std_lo + 1.0, size=(B, A)), jnp.float32)
    key = jax.random.key(seed)
    action, log_prob = _sample(mean, log_std, key)
    u = mean + jnp.exp(log_std) * jax.random.normal(key, (B, A))  # the same pre-tanh sample
    assert action.shape == (B, A) and log_prob.shape == (B,)
    assert np.all(np.abs(np.asarray(action)) < 1.0)
    np.testing.assert_allclose(action, np.clip(np.tanh(np.asarray(u)), -1, 1), atol=2e-6)
    np.testing.assert_allclose(log_prob, _reference_log_prob(mean, log_std, u), rtol=1e-4, atol=1e-3)


def test_tanh_gaussian_density_integrates_to_one():
    """Numerical change of variables: p(a) on a fine grid of (-1, 1) integrates to 1."""
    a = np.linspace(-1 + 1e-7, 1 - 1e-7, 400_001)
    u = jnp.asarray(np.arctanh(a)[:, None], jnp.float32)
    mean, log_std = jnp.full_like(u, 0.3), jnp.full_like(u, np.log(0.6))
    density = np.exp(np.asarray(nw.tanh_gaussian_log_prob(mean, log_std, u), np.float64))
    assert abs(np.trapezoid(density, a) - 1.0) < 1e-3


def test_tanh_gaussian_extreme_inputs_stay_finite_and_inside():
    mean = jnp.array([[50.0, -50.0, 0.0]] * 4)
    for log_std in (jnp.full_like(mean, -20.0), jnp.full_like(mean, 2.0)):
        action, log_prob = _sample(mean, log_std, jax.random.key(0))
        assert np.all(np.isfinite(log_prob)) and np.all(np.abs(np.asarray(action)) < 1.0)
    grads = jax.grad(lambda m: jnp.sum(_sample(m, jnp.zeros_like(m), jax.random.key(1))[1]))(mean)
    assert np.all(np.isfinite(grads))


# ------------------------------------------------------------------ modules


@pytest.mark.parametrize("conditioning", ["onehot", "multihead"])
def test_shapes_bounds_and_helpers(conditioning):
    net, (actor_params, critic_params) = NETS[conditioning], PARAMS[conditioning]
    mean, log_std = net.actor_apply(actor_params, 1e3 * OBS, TASK)  # huge inputs hit the log_std clip
    assert mean.shape == log_std.shape == (B, A)
    assert float(log_std.min()) >= -20.0 and float(log_std.max()) <= 2.0
    q = net.critic_apply(critic_params, OBS, ACT, TASK)
    assert q.shape == (2, B)
    assert not np.allclose(q[0], q[1]), "the two critics must be initialised independently"
    action, log_prob = net.sample_action(actor_params, OBS, TASK, jax.random.key(0))
    assert action.shape == (B, A) and log_prob.shape == (B,) and np.all(np.abs(np.asarray(action)) < 1)
    mean, _ = net.actor_apply(actor_params, OBS, TASK)
    np.testing.assert_allclose(net.deterministic_action(actor_params, OBS, TASK), np.tanh(mean), atol=1e-6)


def _perturb_head(params, task):
    """Add noise to every multihead head slice of `task` (actor: [T,...]; critic: [2,T,...])."""

    def f(path, x):
        name = path[-1].key
        if name not in ("head_kernel", "head_bias"):
            return x
        axis = 1 if "q" in [getattr(p, "key", None) for p in path] else 0
        idx = [slice(None)] * x.ndim
        idx[axis] = task
        return x.at[tuple(idx)].add(1.0)

    return jax.tree_util.tree_map_with_path(f, params)


@pytest.mark.parametrize("changed", [0, 2])
def test_multihead_task_outputs_depend_only_on_own_head(changed):
    net, (actor_params, critic_params) = NETS["multihead"], PARAMS["multihead"]
    mean0, log_std0 = net.actor_apply(actor_params, OBS, TASK)
    mean1, log_std1 = net.actor_apply(_perturb_head(actor_params, changed), OBS, TASK)
    q0 = net.critic_apply(critic_params, OBS, ACT, TASK)
    q1 = net.critic_apply(_perturb_head(critic_params, changed), OBS, ACT, TASK)
    same = np.asarray(TASK != changed)
    np.testing.assert_array_equal(mean0[same], mean1[same])
    np.testing.assert_array_equal(log_std0[same], log_std1[same])
    np.testing.assert_array_equal(q0[:, same], q1[:, same])
    assert np.all(np.asarray(mean0[~same] != mean1[~same]))
    assert np.all(np.asarray(q0[:, ~same] != q1[:, ~same]))


def test_multihead_head_gradient_zero_from_other_tasks():
    net, (actor_params, _) = NETS["multihead"], PARAMS["multihead"]
    task = jnp.zeros((B,), jnp.int32).at[: B // 2].set(1)  # tasks 0 and 1 only
    grads = jax.grad(lambda p: jnp.sum(net.actor_apply(p, OBS, task)[0]))(actor_params)["params"]["mlp"]
    assert np.all(np.asarray(grads["head_kernel"][2:]) == 0) and np.all(np.asarray(grads["head_bias"][2:]) == 0)
    assert np.any(np.asarray(grads["head_kernel"][:2]) != 0)


@pytest.mark.parametrize("conditioning", ["onehot", "multihead"])
def test_different_skill_ids_give_different_outputs(conditioning):
    net, (actor_params, critic_params) = NETS[conditioning], PARAMS[conditioning]
    outs = [net.actor_apply(actor_params, OBS, jnp.full((B,), t, jnp.int32))[0] for t in range(T)]
    qs = [net.critic_apply(critic_params, OBS, ACT, jnp.full((B,), t, jnp.int32)) for t in range(T)]
    for i in range(T):
        for j in range(i + 1, T):
            assert not np.allclose(outs[i], outs[j]) and not np.allclose(qs[i], qs[j])


def test_onehot_is_a_per_sample_function():
    """A sample's output depends only on its own (obs, task): batch order/composition does not matter."""
    net, (actor_params, _) = NETS["onehot"], PARAMS["onehot"]
    full, _ = net.actor_apply(actor_params, OBS, TASK)
    single = jnp.concatenate([net.actor_apply(actor_params, OBS[i : i + 1], TASK[i : i + 1])[0] for i in range(B)])
    np.testing.assert_allclose(full, single, rtol=1e-5, atol=1e-6)


def test_networks_is_a_static_pytree():
    net = NETS["onehot"]
    assert jax.tree_util.tree_leaves(net) == []
    out = jax.jit(lambda n, p: n.deterministic_action(p, OBS, TASK))(net, PARAMS["onehot"][0])
    assert out.shape == (B, A)


# ------------------------------------------------------------------ layer norm
@pytest.mark.parametrize("layer_norm", ["critic", "both"])
def test_layer_norm_parameters_and_shapes(layer_norm):
    """LayerNorm scale/offset per hidden layer in the critic (and the actor for "both"); "critic" leaves the
    actor bitwise the plain one (same key); outputs keep their shapes and are finite."""
    base = NetworkConfig(obs_dim=5, action_dim=2, num_skills=3, hidden=(8, 6))
    plain, ln = make_networks(base), make_networks(dataclasses.replace(base, layer_norm=layer_norm))
    key = jax.random.PRNGKey(0)
    cp = ln.critic_init(key)["params"]["q"]
    assert set(cp) == {"hidden_0", "hidden_1", "norm_0", "norm_1", "head"}
    assert cp["norm_0"]["scale"].shape == (2, 8) and cp["norm_1"]["bias"].shape == (2, 6)  # 2 critics
    ap, ap_plain = ln.actor_init(key)["params"]["mlp"], plain.actor_init(key)["params"]["mlp"]
    if layer_norm == "critic":
        jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), ap, ap_plain)
    else:
        assert {"norm_0", "norm_1"} <= set(ap)
    obs, act, tid = jnp.ones((4, 5)), jnp.zeros((4, 2)), jnp.arange(4) % 3
    q = ln.critic_apply(ln.critic_init(key), obs, act, tid)
    assert q.shape == (2, 4) and np.isfinite(np.asarray(q)).all()


@given(scale=st.floats(0.01, 100.0), seed=st.integers(0, 100))
def test_layer_norm_critic_is_invariant_to_input_scale_at_init(scale, seed):
    """Hand-checkable property: at init the biases are 0, so LN(W (c x)) = LN(W x) for c > 0 and the
    multi-head LN critic's Q is unchanged by scaling its input (obs, action) by c."""
    cfg = NetworkConfig(
        obs_dim=5, action_dim=2, num_skills=2, hidden=(16, 16), conditioning="multihead", layer_norm="critic"
    )
    net = make_networks(cfg)
    params = net.critic_init(jax.random.PRNGKey(seed))
    x = jax.random.normal(jax.random.PRNGKey(seed + 1), (6, 7))
    obs, act, tid = x[:, :5], x[:, 5:], jnp.arange(6) % 2
    q1, q2 = net.critic_apply(params, obs, act, tid), net.critic_apply(params, scale * obs, scale * act, tid)
    np.testing.assert_allclose(q1, q2, rtol=2e-3, atol=2e-3)
