"""jaxmeta.agents.pearl: the product of Gaussian factors and the KL by hand (with / without jit, masked,
empty context = prior), the update (encoder trained, actor not reaching it), option errors, and PEARL
learning to act on a task it can only infer from its context."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta.agents.pearl.encoder import context_features, kl_to_prior, make_encoder, product_of_gaussians
from jaxmeta.agents.pearl.options import PEARLOptions
from jaxmeta.agents.pearl.pearl import make_pearl
from jaxmeta.networks import NetworkConfig, make_networks
from jaxmeta.sac import SACConfig, Transition


@pytest.mark.parametrize("jit", [False, True])
def test_product_of_gaussians_by_hand(jit):
    fn = jax.jit(product_of_gaussians) if jit else product_of_gaussians
    mu = jnp.array([[0.0, 1.0], [2.0, 1.0], [100.0, 100.0]])
    var = jnp.array([[1.0, 0.5], [1.0, 0.25], [1e-3, 1e-3]])
    m, v = fn(mu, var, jnp.array([True, True, False]))  # the third factor is masked out
    np.testing.assert_allclose(v, [0.5, 1.0 / 6.0], rtol=1e-6)
    np.testing.assert_allclose(m, [1.0, (1.0 / 6.0) * (2.0 + 4.0)], rtol=1e-6)
    m0, v0 = fn(mu, var, jnp.zeros(3, bool))  # no context: the prior
    np.testing.assert_array_equal(m0, [0.0, 0.0])
    np.testing.assert_array_equal(v0, [1.0, 1.0])


def test_kl_to_the_prior_by_hand():
    np.testing.assert_allclose(kl_to_prior(jnp.zeros(3), jnp.ones(3)), 0.0, atol=1e-7)
    # 0.5 * ((0.5 + 1 - 1 - log 0.5) + (2 + 0 - 1 - log 2))
    want = 0.5 * ((0.5 + 1.0 - 1.0 - np.log(0.5)) + (2.0 - 1.0 - np.log(2.0)))
    np.testing.assert_allclose(kl_to_prior(jnp.array([1.0, 0.0]), jnp.array([0.5, 2.0])), want, rtol=1e-6)


def test_bad_options():
    with pytest.raises(ValueError, match="latent_dim must be a positive int, got 0"):
        PEARLOptions(latent_dim=0)
    with pytest.raises(ValueError, match="encoder_hidden must be positive ints"):
        PEARLOptions(encoder_hidden=(8, -1))
    opts = PEARLOptions(latent_dim=2, encoder_hidden=(8,))
    nets = make_networks(NetworkConfig(obs_dim=3, action_dim=1, num_skills=2, hidden=(8,)))
    with pytest.raises(ValueError, match="SACConfig.num_skills must be 1, got 2"):
        make_pearl(SACConfig(num_skills=2), opts, nets, make_encoder(3, (8,), 2))


# ------------------------------------------------------------------- a task to infer from the context
L = 2


def _setup(kl_weight=0.1):
    opts = PEARLOptions(latent_dim=L, kl_weight=kl_weight, encoder_hidden=(32, 32), encoder_lr=1e-3)
    nets = make_networks(NetworkConfig(obs_dim=1 + L, action_dim=1, num_skills=1, hidden=(64, 64)))
    cfg = SACConfig(num_skills=1, actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3, discount=0.0)
    return make_pearl(cfg, opts, nets, make_encoder(3, opts.encoder_hidden, L))


GOALS = jnp.array([-0.8, 0.8])  # task m's target action; reward -(a - g)^2, one-step episodes


def _data(key, n):
    """n random-action transitions per task: (M, n) batch and (M, n, 3) context features."""
    a = jax.random.uniform(key, (2, n, 1), minval=-1.0, maxval=1.0)
    r = -((a[..., 0] - GOALS[:, None]) ** 2)
    obs = jnp.ones((2, n, 1))
    batch = Transition(
        obs=obs, action=a, reward=r, next_obs=obs, discount=jnp.zeros((2, n)), skill_id=jnp.zeros((2, n), jnp.int32)
    )
    return batch, context_features(obs, a, r)


def test_the_update_trains_the_encoder_from_the_critic_only():
    pearl = _setup()
    state = pearl.init(jax.random.PRNGKey(0))
    batch, ctx = _data(jax.random.PRNGKey(1), 16)
    new, m = jax.jit(pearl.update)(state, batch, ctx, jax.random.PRNGKey(2))
    assert float(m["encoder_grad_norm"]) > 0 and np.isfinite(float(m["kl"]))
    changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), new.encoder_params, state.encoder_params)
    assert all(jax.tree.leaves(changed))
    same, _ = pearl.update(state, batch, ctx, jax.random.PRNGKey(2))  # without jit
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6), same, new)
    # with a zero KL weight and the critic unchanged by z, the encoder gradient is the critic's alone:
    # a mask hiding all context gives z from the prior, independent of the encoder -> zero gradient
    pearl0 = _setup(kl_weight=0.0)
    _, m0 = pearl0.update(state, batch, ctx, jax.random.PRNGKey(2), jnp.zeros(ctx.shape[:2], bool))
    assert float(m0["encoder_grad_norm"]) == 0.0 and float(m0["actor_grad_norm"]) > 0


def test_pearl_acts_on_the_task_its_context_reveals():
    pearl = _setup()

    @jax.jit
    def step(state, key):
        k1, k2, k3 = jax.random.split(key, 3)
        batch, _ = _data(k1, 32)
        _, ctx = _data(k2, 8)
        return pearl.update(state, batch, ctx, k3)

    state = pearl.init(jax.random.PRNGKey(0))
    for k in jax.random.split(jax.random.PRNGKey(1), 1500):
        state, m = step(state, k)
    _, ctx = _data(jax.random.PRNGKey(7), 8)
    acts = []
    for task in range(2):
        z, _, var = pearl.infer(state, ctx[task], jnp.ones(8, bool), jax.random.PRNGKey(task))
        acts.append(float(pearl.act(state, jnp.ones((1, 1)), z[None], deterministic=True)[0, 0]))
        assert float(var.max()) < 1.0  # the context narrowed the posterior
    rewards = [-((a - float(g)) ** 2) for a, g in zip(acts, GOALS)]
    assert min(rewards) > -0.1, (acts, rewards)
    assert acts[1] - acts[0] > 1.0  # opposite actions for the two tasks
