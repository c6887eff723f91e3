"""Reptile: eps = 0 keeps theta, eps = 1 with one task equals the inner result, vmap == sequential."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta.networks import NetworkConfig, make_networks
from jaxmeta.reptile import ReptileConfig, inner_loop, interpolate, make_reptile_update
from jaxmeta.sac import SACConfig, Transition, make_sac

OBS, ACT, TASKS, B, K = 6, 2, 3, 8, 3


@pytest.fixture(scope="module")
def sac():
    net = make_networks(NetworkConfig(obs_dim=OBS, action_dim=ACT, num_skills=TASKS, hidden=(16, 16)))
    return make_sac(SACConfig(num_skills=TASKS), net)


def _batches(key, m):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    shape = (m, K, B)
    task = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32)[:, None, None] % TASKS, shape)
    return Transition(
        obs=jax.random.normal(k1, shape + (OBS,)),
        action=jax.random.uniform(k2, shape + (ACT,), minval=-1, maxval=1),
        reward=jax.random.normal(k3, shape),
        next_obs=jax.random.normal(k4, shape + (OBS,)),
        discount=jnp.ones(shape),
        skill_id=task,
    )


def _close(a, b, **kw):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def test_config_validation():
    with pytest.raises(ValueError, match="outer_lr"):
        ReptileConfig(outer_lr=1.5)
    with pytest.raises(ValueError, match="inner_steps"):
        ReptileConfig(inner_steps=0)


def test_eps_zero_keeps_theta(sac):
    theta = sac.init(jax.random.key(0))
    update = jax.jit(make_reptile_update(sac, ReptileConfig(inner_steps=K, meta_batch=2, outer_lr=0.0)))
    new, metrics = update(theta, _batches(jax.random.key(1), 2), jax.random.key(2))
    _close(new.actor_params, theta.actor_params, rtol=0, atol=0)
    _close(new.critic_params, theta.critic_params, rtol=0, atol=0)
    assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(metrics))


def test_eps_one_single_task_equals_inner_result(sac):
    theta = sac.init(jax.random.key(0))
    batches = _batches(jax.random.key(1), 1)
    key = jax.random.key(2)
    update = jax.jit(make_reptile_update(sac, ReptileConfig(inner_steps=K, meta_batch=1, outer_lr=1.0)))
    new, _ = update(theta, batches, key)
    inner_key = jax.random.split(key, 1)[0]
    ref, _ = jax.jit(lambda t, b, k: inner_loop(sac, t, b, k))(theta, jax.tree.map(lambda x: x[0], batches), inner_key)
    _close(new.actor_params, ref.actor_params, rtol=1e-6, atol=1e-6)
    _close(new.critic_params, ref.critic_params, rtol=1e-6, atol=1e-6)
    _close(new.log_alpha, ref.log_alpha, rtol=1e-6, atol=1e-6)
    assert int(new.step) == K


def test_vmapped_inner_loops_equal_sequential(sac):
    theta = sac.init(jax.random.key(0))
    m = 3
    batches = _batches(jax.random.key(1), m)
    key = jax.random.key(2)
    eps = 0.5
    new, _ = jax.jit(make_reptile_update(sac, ReptileConfig(inner_steps=K, meta_batch=m, outer_lr=eps)))(
        theta, batches, key
    )
    keys = jax.random.split(key, m)
    inner = jax.jit(lambda t, b, k: inner_loop(sac, t, b, k)[0])
    adapted = [inner(theta, jax.tree.map(lambda x: x[i], batches), keys[i]) for i in range(m)]
    mean = jax.tree.map(lambda *xs: sum(xs) / m if jnp.issubdtype(xs[0].dtype, jnp.floating) else xs[0], *adapted)
    ref = interpolate(theta, mean, eps)
    _close(new.actor_params, ref.actor_params, rtol=1e-5, atol=1e-6)
    _close(new.critic_params, ref.critic_params, rtol=1e-5, atol=1e-6)


def test_wrong_batch_rank_is_a_clear_error(sac):
    theta = sac.init(jax.random.key(0))
    update = make_reptile_update(sac, ReptileConfig(inner_steps=K, meta_batch=1))
    flat = jax.tree.map(lambda x: x[0], _batches(jax.random.key(1), 1))
    with pytest.raises(ValueError, match="meta_batch, inner_steps, batch"):
        update(theta, flat, jax.random.key(0))
