"""Tests for jaxmeta.sac: losses, IS weights, loss mask, per-skill alpha, Polyak, jit consistency."""

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmeta import sac as S
from jaxmeta.networks import NetworkConfig, make_networks, networks_from_modules
from jaxmeta.sac import SACConfig, SACState, Transition, make_sac

O, A, T, B = 5, 3, 4, 16
HIDDEN = (32, 32)


def _nets(conditioning="multihead", num_skills=T):
    return make_networks(
        NetworkConfig(obs_dim=O, action_dim=A, num_skills=num_skills, hidden=HIDDEN, conditioning=conditioning)
    )


def make_batch(key, b=B, num_skills=T, skill_id=None, reward_scale=1.0):
    k = jax.random.split(key, 6)
    if skill_id is None:
        skill_id = jax.random.randint(k[4], (b,), 0, num_skills)
    return Transition(
        obs=jax.random.normal(k[0], (b, O)),
        action=jax.random.uniform(k[1], (b, A), minval=-1.0, maxval=1.0),
        reward=reward_scale * jax.random.normal(k[2], (b,)),
        next_obs=jax.random.normal(k[3], (b, O)),
        discount=(jax.random.uniform(k[5], (b,)) > 0.2).astype(jnp.float32),
        skill_id=jnp.asarray(skill_id, jnp.int32),
    )


NETS = _nets()
CFG = SACConfig(num_skills=T)
SAC = make_sac(CFG, NETS)
STATE = SAC.init(jax.random.key(0))
BATCH = make_batch(jax.random.key(1), skill_id=np.arange(B) % T)
KEY = jax.random.key(2)
UPDATE = jax.jit(SAC.update)


def _critic_loss(cfg=CFG, nets=NETS):
    return functools.partial(S.critic_loss, networks=nets, config=cfg)


def _actor_loss(cfg=CFG, nets=NETS):
    return functools.partial(S.actor_loss, networks=nets, config=cfg)


def _assert_trees_equal(a, b):
    jax.tree.map(np.testing.assert_array_equal, a, b)


# ------------------------------------------------------------------ config / polyak


@pytest.mark.parametrize(
    "field, value",
    [
        ("discount", 1.5),
        ("tau", -0.1),
        ("actor_lr", 0.0),
        ("critic_lr", float("nan")),
        ("alpha_lr", -1.0),
        ("init_alpha", 0.0),
        ("target_entropy", float("inf")),
        ("num_skills", 0),
        ("learn_alpha", 1),
        ("max_grad_norm", 0.0),
        ("reward_scale", float("nan")),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        SACConfig(**{field: value})


def test_config_target_entropy():
    assert SACConfig().resolved_target_entropy(4) == -4.0
    assert SACConfig(target_entropy=-1.5).resolved_target_entropy(4) == -1.5


@given(tau=st.floats(0.0, 1.0), seed=st.integers(0, 1000))
def test_polyak(tau, seed):
    k1, k2 = jax.random.split(jax.random.key(seed))
    target = {"a": jax.random.normal(k1, (3, 2)), "b": [jax.random.normal(k2, (4,))]}
    online = jax.tree.map(lambda x: 2.0 * x + 1.0, target)
    _assert_trees_equal(S.polyak_update(target, online, 0.0), target)
    _assert_trees_equal(S.polyak_update(target, online, 1.0), online)
    mixed = S.polyak_update(target, online, tau)
    jax.tree.map(
        lambda m, t, o: np.testing.assert_allclose(m, (1 - tau) * t + tau * o, rtol=1e-5, atol=1e-6),
        mixed,
        target,
        online,
    )


# ------------------------------------------------------------------ losses


@functools.lru_cache(maxsize=None)
def _all_losses(num_skills, conditioning, reward_scale):
    """jitted (init, losses) for one static setting; hidden (16,) keeps compiles short."""
    nets = make_networks(
        NetworkConfig(obs_dim=O, action_dim=A, num_skills=num_skills, hidden=(16,), conditioning=conditioning)
    )
    cfg = SACConfig(num_skills=num_skills, reward_scale=reward_scale)
    sac = make_sac(cfg, nets)

    @jax.jit
    def losses(key, batch, weights):
        state = sac.init(key)
        c, c_aux = S.critic_loss(
            state.critic_params,
            state.target_critic_params,
            state.actor_params,
            state.log_alpha,
            batch,
            key,
            weights,
            networks=nets,
            config=cfg,
        )
        a, a_aux = S.actor_loss(
            state.actor_params, state.critic_params, state.log_alpha, batch, key, weights, networks=nets, config=cfg
        )
        al, al_aux = S.alpha_loss(
            state.log_alpha, a_aux["log_prob"], batch.skill_id, weights, target_entropy=cfg.resolved_target_entropy(A)
        )
        return (c, a, al), (c_aux, a_aux, al_aux)

    return losses


@settings(max_examples=5)
@given(
    b=st.sampled_from([1, 32]),
    num_skills=st.sampled_from([1, 3]),
    reward_scale=st.sampled_from([1.0, 100.0]),
    reward_magnitude=st.floats(0.0, 1e3),
    conditioning=st.sampled_from(["onehot", "multihead"]),
    seed=st.integers(0, 2**16),
)
def test_losses_finite_on_random_batches(b, num_skills, reward_scale, reward_magnitude, conditioning, seed):
    batch = make_batch(jax.random.key(seed), b=b, num_skills=num_skills, reward_scale=reward_magnitude)
    weights = jax.random.uniform(jax.random.key(seed + 1), (b,), minval=0.1, maxval=1.0)
    values, (c_aux, a_aux, al_aux) = _all_losses(num_skills, conditioning, reward_scale)(
        jax.random.key(seed + 2), batch, weights
    )
    assert all(np.isfinite(v) and np.ndim(v) == 0 for v in values)
    assert c_aux["td_error"].shape == (b,) and np.all(np.asarray(c_aux["td_error"]) >= 0)
    for aux in (c_aux, a_aux, al_aux):
        assert aux["per_skill"].shape == (num_skills,)
        assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(aux))


def test_critic_loss_matches_manual_computation():
    loss, aux = jax.jit(_critic_loss())(
        STATE.critic_params, STATE.target_critic_params, STATE.actor_params, STATE.log_alpha, BATCH, KEY
    )
    next_a, next_logp = NETS.sample_action(STATE.actor_params, BATCH.next_obs, BATCH.skill_id, KEY)
    next_q = NETS.critic_apply(STATE.target_critic_params, BATCH.next_obs, next_a, BATCH.skill_id)
    alpha = np.exp(np.asarray(STATE.log_alpha))[BATCH.skill_id]
    y = BATCH.reward + CFG.discount * BATCH.discount * (np.min(next_q, 0) - alpha * next_logp)
    q = NETS.critic_apply(STATE.critic_params, BATCH.obs, BATCH.action, BATCH.skill_id)
    np.testing.assert_allclose(aux["td_error"], np.mean(np.abs(q - y), 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loss, np.mean(0.5 * np.sum((q - y) ** 2, 0)), rtol=1e-5)
    per_skill = [np.mean(0.5 * np.sum((q - y) ** 2, 0)[BATCH.skill_id == t]) for t in range(T)]
    np.testing.assert_allclose(aux["per_skill"], per_skill, rtol=1e-5)


# ------------------------------------------------------------------ importance weights


def test_unit_weights_equal_unweighted_update():
    """Bit-identical eagerly; under jit the two are different XLA programs (constant vs argument
    weights), which may reorder the metric reductions: state and td_error still match exactly."""
    ones = jnp.ones((B,))
    _assert_trees_equal(SAC.update(STATE, BATCH, KEY), SAC.update(STATE, BATCH, KEY, ones, ones))
    (s1, m1, td1), (s2, m2, td2) = UPDATE(STATE, BATCH, KEY), UPDATE(STATE, BATCH, KEY, ones, ones)
    _assert_trees_equal((s1, td1), (s2, td2))
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-6), m1, m2)


@pytest.mark.parametrize("loss_name", ["critic", "actor"])
def test_weight_scales_only_that_sample(loss_name):
    """loss and gradient are linear in w: changing w_k by c adds c * (sample k's term) / B."""
    if loss_name == "critic":
        fn = _critic_loss()
        args = lambda w: (
            STATE.critic_params,
            STATE.target_critic_params,
            STATE.actor_params,
            STATE.log_alpha,
            BATCH,
            KEY,
            w,
        )
    else:
        fn = _actor_loss()
        args = lambda w: (STATE.actor_params, STATE.critic_params, STATE.log_alpha, BATCH, KEY, w)
    vg = jax.jit(lambda w: jax.value_and_grad(fn, has_aux=True)(*args(w)))
    k, c = 5, 3.0
    (l1, aux1), g1 = vg(jnp.ones((B,)))
    (l2, _), g2 = vg(jnp.ones((B,)).at[k].set(1.0 + c))
    (lk, _), gk = vg(jnp.zeros((B,)).at[k].set(1.0))  # sample k alone, same normaliser 1/B
    np.testing.assert_allclose(l2 - l1, c * aux1["per_sample"][k] / B, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lk, aux1["per_sample"][k] / B, rtol=1e-5)
    jax.tree.map(lambda a, b_, s: np.testing.assert_allclose(a - b_, c * s, rtol=1e-3, atol=1e-5), g2, g1, gk)


# ------------------------------------------------------------------ loss mask


def _head_grads(grads, critic):
    p = grads["params"]["q"] if critic else grads["params"]["mlp"]
    axis = 1 if critic else 0
    return np.moveaxis(np.asarray(p["head_kernel"]), axis, 0), np.moveaxis(np.asarray(p["head_bias"]), axis, 0)


def test_masked_task_gets_exactly_zero_gradient():
    masked = 2
    mask = (BATCH.skill_id != masked).astype(jnp.float32)
    # a huge reward on the masked task (PaCo's exploding loss) must not leak into any gradient
    batch = BATCH.replace(reward=jnp.where(mask > 0, BATCH.reward, 1e6))
    g_c = jax.jit(
        jax.grad(
            lambda p: _critic_loss()(
                p, STATE.target_critic_params, STATE.actor_params, STATE.log_alpha, batch, KEY, None, mask
            )[0]
        )
    )(STATE.critic_params)
    g_a = jax.jit(
        jax.grad(lambda p: _actor_loss()(p, STATE.critic_params, STATE.log_alpha, batch, KEY, None, mask)[0])
    )(STATE.actor_params)
    for grads, critic in ((g_c, True), (g_a, False)):
        kernel, bias = _head_grads(grads, critic)
        assert np.all(kernel[masked] == 0) and np.all(bias[masked] == 0)
        others = [t for t in range(T) if t != masked]
        assert np.all(np.any(kernel[others].reshape(len(others), -1) != 0, axis=1))
        assert all(np.all(np.abs(np.asarray(g)) < 1e3) for g in jax.tree.leaves(grads))


def test_masked_task_zero_gradient_onehot_first_layer():
    """onehot nets: the first-layer row reading task j's one-hot bit is task j's only private weight."""
    nets, masked = _nets("onehot"), 1
    sac = make_sac(CFG, nets)
    state = sac.init(jax.random.key(3))
    mask = BATCH.skill_id != masked
    g = jax.jit(
        jax.grad(
            lambda p: S.critic_loss(
                p,
                state.target_critic_params,
                state.actor_params,
                state.log_alpha,
                BATCH,
                KEY,
                None,
                mask,
                networks=nets,
                config=CFG,
            )[0]
        )
    )(state.critic_params)
    rows = np.asarray(g["params"]["q"]["hidden_0"]["kernel"])[:, O + A :]  # (2, T, H)
    assert np.all(rows[:, masked] == 0) and np.all(np.any(rows[:, [0, 2, 3]] != 0, axis=-1))


def test_masked_loss_equals_loss_on_unmasked_subset():
    cfg = SACConfig(num_skills=T, discount=0.0)  # target = reward: no sampling noise, subset comparable
    fn = jax.jit(
        lambda batch, mask: _critic_loss(cfg)(
            STATE.critic_params, STATE.target_critic_params, STATE.actor_params, STATE.log_alpha, batch, KEY, None, mask
        )
    )
    keep = np.asarray(BATCH.skill_id) != 3
    sub = jax.tree.map(lambda x: x[keep], BATCH)
    (l_mask, aux_mask), (l_sub, _) = fn(BATCH, jnp.asarray(keep)), fn(sub, None)
    np.testing.assert_allclose(l_mask, l_sub, rtol=1e-6)
    assert float(aux_mask["per_skill"][3]) == 0.0
    l_none, aux_none = fn(BATCH, jnp.zeros((B,)))
    assert float(l_none) == 0.0 and np.all(np.asarray(aux_none["per_skill"]) == 0)


def test_masked_update_leaves_masked_task_alpha_and_head_untouched():
    mask = (BATCH.skill_id != 0).astype(jnp.float32)
    new, metrics, td = UPDATE(STATE, BATCH, KEY, jnp.ones((B,)), mask)
    assert float(new.log_alpha[0]) == float(STATE.log_alpha[0])
    assert np.all(np.asarray(new.log_alpha[1:]) != np.asarray(STATE.log_alpha[1:]))
    # first Adam step from zero moments: zero gradient -> zero update for task 0's heads
    k_new, _ = _head_grads(new.actor_params, critic=False)
    k_old, _ = _head_grads(STATE.actor_params, critic=False)
    np.testing.assert_array_equal(k_new[0], k_old[0])
    assert np.all(np.isfinite(td)) and td.shape == (B,)


# ------------------------------------------------------------------ temperature


def _with_log_std_bias(actor_params, shift):
    """Shift the log_std half of every actor head bias (multihead layout: head_bias (T, 2A))."""
    mlp = actor_params["params"]["mlp"]
    bias = mlp["head_bias"].at[:, A:].add(shift)
    return {"params": {"mlp": {**mlp, "head_bias": bias}}}


@pytest.mark.parametrize("log_std_shift, direction", [(0.0, -1), (-50.0, +1)])
def test_alpha_moves_toward_target_entropy_only_for_sampled_tasks(log_std_shift, direction):
    """Target entropy is -A = -3. Initial policy: entropy ~ +1 > -3 -> alpha decreases. With log_std at
    its floor (-20) the entropy is ~ -55 < -3 -> alpha increases."""
    state = STATE.replace(actor_params=_with_log_std_bias(STATE.actor_params, log_std_shift))
    batch = BATCH.replace(skill_id=jnp.where(BATCH.skill_id % 2 == 0, 0, 2).astype(jnp.int32))  # tasks {0, 2}
    for i in range(3):
        new, metrics, _ = UPDATE(state, batch, jax.random.key(i))
        assert np.sign(float(metrics["entropy"]) + A) == -direction
        delta = np.asarray(new.log_alpha - state.log_alpha)
        assert np.all(np.sign(delta[[0, 2]]) == direction), delta
        assert np.all(delta[[1, 3]] == 0), delta
        state = new
    # the loss gradient itself: d loss / d log_alpha[t] = -(mean log_prob_t + H_target) * share_t
    for target_entropy in (-100.0, 100.0):
        g = np.asarray(
            jax.grad(
                lambda la: S.alpha_loss(la, jnp.full((B,), 0.5), batch.skill_id, target_entropy=target_entropy)[0]
            )(jnp.zeros((T,)))
        )
        assert np.all(np.sign(g[[0, 2]]) == -np.sign(target_entropy)) and np.all(g[[1, 3]] == 0)


# ------------------------------------------------------------------ update


def test_update_jit_matches_eager():
    s_jit, m_jit, td_jit = UPDATE(STATE, BATCH, KEY)
    s_eager, m_eager, td_eager = SAC.update(STATE, BATCH, KEY)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-5)
    jax.tree.map(close, (s_jit, m_jit, td_jit), (s_eager, m_eager, td_eager))


def test_update_bookkeeping():
    new, metrics, td = UPDATE(STATE, BATCH, KEY)
    assert isinstance(new, SACState) and int(new.step) == 1
    expected = {"critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean", "td_error"}
    assert expected <= set(metrics)
    assert all(np.ndim(v) == 0 for k, v in metrics.items() if not k.endswith("_per_skill"))
    # td_error returned by update is the critic loss's, computed with the update's critic key
    critic_key, _ = jax.random.split(KEY)
    _, aux = _critic_loss()(
        STATE.critic_params, STATE.target_critic_params, STATE.actor_params, STATE.log_alpha, BATCH, critic_key
    )
    np.testing.assert_allclose(td, aux["td_error"], rtol=1e-5, atol=1e-6)
    # target = (1 - tau) * old target + tau * new online critic
    jax.tree.map(
        lambda t, t0, c: np.testing.assert_allclose(t, (1 - CFG.tau) * t0 + CFG.tau * c, rtol=1e-5, atol=1e-7),
        new.target_critic_params,
        STATE.target_critic_params,
        new.critic_params,
    )
    a_stoch = SAC.act(new, BATCH.obs, BATCH.skill_id, KEY)
    a_det = SAC.act(new.actor_params, BATCH.obs, BATCH.skill_id, deterministic=True)
    assert a_stoch.shape == a_det.shape == (B, A) and np.all(np.abs(np.asarray(a_stoch)) < 1)


def test_custom_network_family_works_unchanged():
    """Any modules with the Actor/Critic call signatures plug into make_sac (the PaCo protocol)."""

    class LinActor(nn.Module):
        @nn.compact
        def __call__(self, obs, skill_id):
            out = nn.Dense(2 * A)(obs) + nn.Embed(T, 2 * A)(skill_id)
            mean, log_std = jnp.split(out, 2, -1)
            return mean, jnp.clip(log_std, -5.0, 2.0)

    class LinCritic(nn.Module):
        @nn.compact
        def __call__(self, obs, action, skill_id):
            x = jnp.concatenate([obs, action], -1)
            return jnp.stack([nn.Dense(1)(x)[:, 0], nn.Dense(1)(x)[:, 0]]) + nn.Embed(T, 1)(skill_id)[:, 0]

    # also covers learn_alpha=False (one compile for both)
    sac = make_sac(
        SACConfig(num_skills=T, learn_alpha=False, init_alpha=0.2), networks_from_modules(LinActor(), LinCritic(), O, A)
    )
    state = sac.init(jax.random.key(0))
    new, metrics, td = jax.jit(sac.update)(state, BATCH, KEY)
    assert td.shape == (B,) and all(np.all(np.isfinite(v)) for v in metrics.values())
    np.testing.assert_array_equal(new.log_alpha, state.log_alpha)
    np.testing.assert_allclose(metrics["alpha"], 0.2, rtol=1e-6)


def test_critic_learns_constant_reward():
    """discount=0: Q(s, a, task) regresses to the task's constant reward."""
    cfg = SACConfig(num_skills=T, discount=0.0, critic_lr=3e-3)
    sac = make_sac(cfg, NETS)
    rewards = jnp.array([1.0, -2.0, 0.5, 3.0])
    batch = BATCH.replace(reward=rewards[BATCH.skill_id])

    @jax.jit
    def train(state):
        def body(s, k):
            s, m, _ = sac.update(s, batch, k)
            return s, m["critic_loss"]

        return jax.lax.scan(body, state, jax.random.split(jax.random.key(0), 300))

    state, losses = train(sac.init(jax.random.key(1)))
    q = NETS.critic_apply(state.critic_params, batch.obs, batch.action, batch.skill_id)
    assert float(losses[-1]) < 0.01 * float(losses[0])
    np.testing.assert_allclose(q, np.broadcast_to(batch.reward, q.shape), atol=0.1)
