"""Tests for jaxmeta.agents.paco (imported through the old path jaxmeta.paco): compositional layers, PaCo
networks, mask-out, w-reset, TaCo task sampling."""

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmeta import paco as P
from jaxmeta import sac as S
from jaxmeta.sac import SACConfig, Transition

O, A, T, K, B = 6, 2, 4, 3, 16
HIDDEN = (16, 16)


def rkey(seed):
    """PRNG key with the "rbg" implementation: on this project's XLA CPU setup threefry random draws
    compile ~10x slower (init of a PaCo critic: 20 s vs 1.5 s); results here do not depend on the impl."""
    return jax.random.key(seed, impl="rbg")


def _cfg(**kw):
    """Small PaCo config. Tests default to mix_mode="outputs" (compiles ~2x faster); "structured" is
    checked against it in the mix-mode tests and used in the masked-gradient test."""
    base = dict(obs_dim=O, action_dim=A, num_skills=T, num_param_sets=K, hidden=HIDDEN, mix_mode="outputs")
    base.update(kw)
    return P.PaCoConfig(**base)


def _jnets(cfg):
    """make_paco_networks with jitted init / apply (eager flax is slow to trace op by op)."""
    n = P.make_paco_networks(cfg)
    return n.replace(
        actor_init=jax.jit(n.actor_init),
        critic_init=jax.jit(n.critic_init),
        actor_apply=jax.jit(n.actor_apply),
        critic_apply=jax.jit(n.critic_apply),
    )


def make_batch(key, b=B, skill_id=None, reward_scale=1.0):
    k = jax.random.split(key, 6)
    if skill_id is None:
        skill_id = np.arange(b) % T
    return Transition(
        obs=jax.random.normal(k[0], (b, O)),
        action=jax.random.uniform(k[1], (b, A), minval=-0.9, maxval=0.9),
        reward=reward_scale * jax.random.normal(k[2], (b,)),
        next_obs=jax.random.normal(k[3], (b, O)),
        discount=jnp.ones((b,)),
        skill_id=jnp.asarray(skill_id, jnp.int32),
    )


def _mlp_reference(x, layers, act=jax.nn.relu):
    """Plain dense MLP: layers = [(kernel (in,out), bias (out,)), ...], activation between layers."""
    for i, (kern, bias) in enumerate(layers):
        x = x @ kern + bias
        if i < len(layers) - 1:
            x = act(x)
    return x


def _actor_set(params, k):
    """Parameter set k of a PaCo actor's MLP as plain dense layers."""
    mlp = params["params"]["mlp"]
    names = [f"layer_{i}" for i in range(len(HIDDEN))] + ["head"]
    return [(mlp[n]["kernel"][k], mlp[n]["bias"][k]) for n in names]


# --------------------------------------------------------------------------------------------------
# config


@pytest.mark.parametrize(
    "field,value",
    [
        ("num_param_sets", 0),
        ("num_skills", -1),
        ("hidden", (16, 0)),
        ("mix_mode", "bogus_mode"),
        ("w_init", "zeros_bad"),
        ("activation", "nope"),
        ("share_w", "yes"),
        ("log_std_min", 5.0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=str(value).replace("(", r"\(").replace(")", r"\)")):
        _cfg(**{field: value})


def test_config_rejects_symmetric_init():
    with pytest.raises(ValueError, match="symmetry"):
        _cfg(identical_init=True, w_init="mean")
    _cfg(identical_init=False, w_init="mean")  # fine


def test_config_holds_the_options_network_fields():
    """PaCoConfig reads its eight network fields from a PaCoOptions (defined and validated once there)."""
    import dataclasses

    from jaxmeta.agents.paco.options import NETWORK_FIELDS, PaCoOptions

    assert len(NETWORK_FIELDS) == 8
    assert set(NETWORK_FIELDS) <= {f.name for f in dataclasses.fields(PaCoOptions)}
    cfg = _cfg(share_w=False)
    assert isinstance(cfg.options, PaCoOptions)
    assert (
        (cfg.num_param_sets, cfg.mix_mode, cfg.share_w)
        == (K, "outputs", False)
        == (cfg.options.num_param_sets, cfg.options.mix_mode, cfg.options.share_w)
    )
    # from a run's options: only the network fields count (TaCo / reset settings do not change the networks)
    run = PaCoOptions(num_param_sets=K, mix_mode="outputs", task_sampling="online", loss_threshold=7.0)
    from_run = P.PaCoConfig(obs_dim=O, action_dim=A, num_skills=T, hidden=HIDDEN, options=run)
    assert from_run == _cfg() and hash(from_run) == hash(_cfg())
    assert from_run.options.task_sampling == "uniform" and from_run.options.loss_threshold == 3e3
    # keywords override the options; dataclasses.replace accepts network fields and dims
    assert P.PaCoConfig(options=run, mix_mode="weights").mix_mode == "weights"
    moved = dataclasses.replace(cfg, num_skills=7, mix_mode="structured")
    assert (moved.num_skills, moved.mix_mode, moved.share_w, moved.hidden) == (7, "structured", False, HIDDEN)
    assert P.PaCoConfig(6, 2, 4, 3, (8,)).num_param_sets == 3  # positional (obs, action, tasks, K, hidden)
    with pytest.raises(ValueError, match=r"PaCoConfig\.num_param_sets must be an int >= 1, got 0"):
        P.PaCoConfig(options=run, num_param_sets=0)
    with pytest.raises(TypeError, match="loss_threshold"):
        P.PaCoConfig(loss_threshold=1.0)  # not a network field


def test_old_import_paths_reexport_the_new_modules():
    """jaxmeta.paco / paco_learner / taco / reptile are thin re-exports of jaxmeta.agents.*."""
    import jaxmeta.paco_learner as old_learner
    import jaxmeta.reptile as old_reptile
    import jaxmeta.taco as old_taco
    from jaxmeta.agents.paco import layers, learner, networks, options, reset, sac
    from jaxmeta.agents.reptile import learner as reptile_learner
    from jaxmeta.agents.reptile import update as reptile_update
    from jaxmeta.agents.taco import learner as taco_learner
    from jaxmeta.agents.taco import metrics, sampling, transfer

    assert P.make_paco_sac is sac.make_paco_sac and P.PaCoConfig is networks.PaCoConfig
    assert P.PaCoOptions is options.PaCoOptions and P.validate_paco_options is options.validate_paco_options
    assert P.compositional_matmul is layers.compositional_matmul and P.reset_w is reset.reset_w
    assert P.allocate_tasks is sampling.allocate_tasks and P.task_parameters is sampling.task_parameters
    assert old_learner.make_paco_learner is learner.make_paco_learner
    assert old_learner.make_taco_learner is taco_learner.make_taco_learner
    assert old_learner.online_groups is sampling.online_groups
    assert old_learner.transfer_phase_is_exploring is transfer.transfer_phase_is_exploring
    assert old_taco.transfer_init is transfer.transfer_init and old_taco.transfer_metrics is metrics.transfer_metrics
    assert old_reptile.make_reptile_learner is reptile_learner.make_reptile_learner
    assert old_reptile.ReptileConfig is reptile_update.ReptileConfig
    assert old_reptile.pick_tasks is reptile_learner.pick_tasks
    for mod in (P, old_learner, old_taco, old_reptile):
        assert all(hasattr(mod, name) for name in mod.__all__)


# --------------------------------------------------------------------------------------------------
# compositional layer


def _layout(kind, b, t, rng):
    """Skill ids (b,) with a "random", "periodic" (perm[i % t]) or "blocked" (perm[i // (b/t)]) layout."""
    perm = rng.permutation(t)
    if kind == "periodic" and b % t == 0:
        return perm[np.arange(b) % t]
    if kind == "blocked" and b % t == 0:
        return np.repeat(perm, b // t)
    return rng.integers(0, t, size=b)


@jax.jit
def _all_modes_and_grads(x, kernel, bias, w, tid):
    def loss(args, mode):
        return jnp.sum(jnp.sin(P.compositional_matmul(*args, tid, mode)))

    args = (x, kernel, bias, w)
    return [(P.compositional_matmul(*args, tid, m), jax.grad(loss)(args, m)) for m in P.MIX_MODES]


@settings(max_examples=6)
@given(
    t=st.sampled_from([1, 3]),
    n=st.sampled_from([1, 2]),
    extra=st.sampled_from([0, 1]),
    din=st.just(3),
    dout=st.just(2),
    k=st.sampled_from([1, 3]),
    layout=st.sampled_from(["random", "periodic", "blocked"]),
    seed=st.integers(0, 2**16),
)
def test_mix_modes_agree(t, n, extra, din, dout, k, layout, seed):
    rng = np.random.default_rng(seed)
    b = t * n + extra
    x, kernel, bias = rng.normal(size=(b, din)), rng.normal(size=(k, din, dout)), rng.normal(size=(k, dout))
    w, tid = rng.normal(size=(t, k)), _layout(layout, b, t, rng)
    arrays = (jnp.asarray(a, jnp.float32) for a in (x, kernel, bias, w))
    outs = _all_modes_and_grads(*arrays, jnp.asarray(tid, jnp.int32))
    # direct definition: theta_t = sum_k w_tk Phi_k, b_t = sum_k w_tk b_k
    theta = np.einsum("tk,kio->tio", w, kernel)
    ref = np.einsum("bi,bio->bo", x, theta[tid]) + (w @ bias)[tid]
    for out, grads in outs:
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
        jax.tree.map(lambda g, g0: np.testing.assert_allclose(g, g0, rtol=1e-4, atol=1e-4), grads, outs[1][1])


_MIX_NETS = {m: P.make_paco_networks(_cfg(mix_mode=m, identical_init=False, hidden=(8, 8))) for m in P.MIX_MODES}


@jax.jit
def _all_nets(ap, cp, obs, act, tid):
    return [(n.actor_apply(ap, obs, tid), n.critic_apply(cp, obs, act, tid)) for n in _MIX_NETS.values()]


def test_network_mix_modes_agree():
    obs = jax.random.normal(rkey(0), (B, O))
    act = jax.random.uniform(rkey(1), (B, A), minval=-1, maxval=1)
    ap = jax.jit(_MIX_NETS["outputs"].actor_init)(rkey(2))
    cp = jax.jit(_MIX_NETS["outputs"].critic_init)(rkey(3))
    for layout in ("periodic", "blocked", "random"):  # fast path (sorted blocks) twice, then fallback
        tid = jnp.asarray(_layout(layout, B, T, np.random.default_rng(0)), jnp.int32)
        outs = _all_nets(ap, cp, obs, act, tid)
        for out in outs[1:]:
            jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5), out, outs[0])


def test_identical_init():
    ap = _jnets(_cfg(identical_init=True)).actor_init(rkey(0))
    cp = _jnets(_cfg(identical_init=True)).critic_init(rkey(0))
    for kern in (ap["params"]["mlp"]["layer_0"]["kernel"], cp["params"]["q"]["layer_1"]["kernel"][1]):
        for k in range(1, K):
            np.testing.assert_array_equal(kern[k], kern[0])
    # twin critics are still independent draws
    q = cp["params"]["q"]["layer_0"]["kernel"]
    assert not np.allclose(q[0], q[1])
    ap2 = _jnets(_cfg(identical_init=False)).actor_init(rkey(0))
    kern = ap2["params"]["mlp"]["layer_0"]["kernel"]
    assert not np.allclose(kern[0], kern[1])
    # per-set fan-in: each set has He scale for its own fan-in (not K * fan-in)
    std = float(jnp.std(_jnets(_cfg(hidden=(256,))).actor_init(rkey(1))["params"]["mlp"]["head"]["kernel"]))
    assert 0.6 / np.sqrt(256) < std < 1.4 / np.sqrt(256)


def test_dense_layer_and_shared_head():
    layer = P.CompositionalDense(5, K, mix_mode="structured", identical_init=False)
    x = jax.random.normal(rkey(0), (B, O))
    w = jax.random.normal(rkey(1), (T, K))
    tid = jnp.arange(B) % T
    params = jax.jit(layer.init)(rkey(2), x, w, tid)
    assert jax.tree.map(jnp.shape, params) == {"params": {"kernel": (K, O, 5), "bias": (K, 5)}}
    p = params["params"]
    np.testing.assert_allclose(
        jax.jit(layer.apply)(params, x, w, tid),
        jax.jit(P.compositional_matmul, static_argnums=5)(x, p["kernel"], p["bias"], w, tid, "outputs"),
        rtol=1e-5,
        atol=1e-5,
    )
    # non-compositional output head: a plain shared Dense, not part of theta_t
    nets = _jnets(_cfg(compositional_head=False))
    ap = nets.actor_init(rkey(0))
    assert ap["params"]["mlp"]["shared_head"]["kernel"].shape == (HIDDEN[-1], 2 * A)
    assert nets.actor_apply(ap, x, tid)[0].shape == (B, A)
    n_comp = sum(v.size for k, v in ap["params"]["mlp"].items() if k != "shared_head" for v in v.values())
    assert P.task_parameters(ap).shape == (T, n_comp // K)


def test_w_init_scale():
    w = P.w_initializer("fan_in")(rkey(0), (400, 5))
    assert abs(float(jnp.std(w)) - 1 / np.sqrt(400)) < 0.2 / np.sqrt(400)
    np.testing.assert_array_equal(P.w_initializer("mean")(rkey(0), (3, 4)), np.full((3, 4), 0.25))


def test_k1_reduces_to_plain_mlp():
    cfg = _cfg(num_param_sets=1, identical_init=False)
    nets = _jnets(cfg)
    params = P.set_w(nets.actor_init(rkey(0)), jnp.ones((T, 1)))
    obs = jax.random.normal(rkey(1), (B, O))
    tid = jnp.arange(B) % T
    mean, log_std = nets.actor_apply(params, obs, tid)
    ref = _mlp_reference(obs, _actor_set(params, 0))
    np.testing.assert_allclose(mean, ref[:, :A], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_std, np.clip(ref[:, A:], cfg.log_std_min, cfg.log_std_max), rtol=1e-5, atol=1e-6)


def test_onehot_w_equals_independent_networks():
    cfg = _cfg(num_skills=K, identical_init=False)
    nets = _jnets(cfg)
    params = P.set_w(nets.actor_init(rkey(0)), jnp.eye(K))  # task t uses set t only
    obs = jax.random.normal(rkey(1), (B, O))
    for k in range(K):
        tid = jnp.full((B,), k, jnp.int32)
        mean, _ = nets.actor_apply(params, obs, tid)
        np.testing.assert_allclose(mean, _mlp_reference(obs, _actor_set(params, k))[:, :A], rtol=1e-5, atol=1e-6)
    # and a mixed batch picks each sample's own network
    tid = jnp.arange(B) % K
    mean, _ = nets.actor_apply(params, obs, tid)
    for i in range(B):
        ref = _mlp_reference(obs[i : i + 1], _actor_set(params, int(tid[i])))[:, :A]
        np.testing.assert_allclose(mean[i : i + 1], ref, rtol=1e-5, atol=1e-6)


def test_task_parameters_are_phi_w():
    nets = _jnets(_cfg(num_skills=K, identical_init=False))
    params = nets.actor_init(rkey(0))
    n_params = sum(x.size for x in jax.tree.leaves(params)) - K * K
    sets = P.task_parameters(P.set_w(params, jnp.eye(K)))  # row k = parameter set k, flattened
    assert sets.shape == (K, n_params // K)
    kern = np.asarray(params["params"]["mlp"]["layer_0"]["kernel"])
    assert any(np.array_equal(sets[:, i : i + kern[0].size], kern.reshape(K, -1)) for i in range(sets.shape[1]))
    w = np.asarray(jax.random.normal(rkey(1), (K, K)))
    np.testing.assert_allclose(P.task_parameters(P.set_w(params, jnp.asarray(w))), w @ sets, rtol=1e-5, atol=1e-5)
    cp = nets.critic_init(rkey(1))
    assert P.task_parameters(cp).shape == (K, (sum(x.size for x in jax.tree.leaves(cp)) - K * K) // K)


# --------------------------------------------------------------------------------------------------
# mask-out


def test_loss_mask_and_sample_mask():
    valid = P.loss_mask(jnp.array([0.0, 3e3, 3001.0, jnp.nan, -5.0, jnp.inf]))
    np.testing.assert_array_equal(valid, [True, True, False, False, True, False])
    tid = jnp.array([0, 2, 2, 1, 5, 4])
    np.testing.assert_array_equal(P.sample_mask_from_tasks(valid, tid), [1, 0, 0, 1, 0, 1])
    np.testing.assert_allclose(P.per_skill_mean(jnp.array([1.0, 3.0, 5.0]), jnp.array([0, 0, 2]), 4), [2, 0, 5, 0])


def test_masked_task_zero_gradient_simple_loss():
    nets = _jnets(_cfg(mix_mode="structured"))  # arange % T batch: the sorted-blocks fast path
    params = nets.actor_init(rkey(0))
    obs = jax.random.normal(rkey(1), (B, O))
    tid = jnp.arange(B) % T
    valid = jnp.array([True, False, True, True])
    mask = P.sample_mask_from_tasks(valid, tid)

    def loss(p, obs):
        mean, log_std = nets.actor_apply(p, obs, tid)
        per_sample = jnp.sum(mean**2 + log_std, axis=-1)
        return jnp.sum(jnp.where(mask > 0, per_sample, 0.0)) / jnp.maximum(mask.sum(), 1)

    grad = jax.jit(jax.grad(loss))
    g = grad(params, obs)
    np.testing.assert_array_equal(P.get_w(g)[1], np.zeros(K))
    assert np.all(np.abs(np.asarray(P.get_w(g))[[0, 2, 3]]) > 0)
    # changing the masked task's inputs changes nothing
    obs2 = jnp.where((tid == 1)[:, None], 100.0 * obs + 7.0, obs)
    jax.tree.map(np.testing.assert_array_equal, grad(params, obs2), g)


def _perturb_task(batch, task):
    sel = batch.skill_id == task
    return batch.replace(
        obs=jnp.where(sel[:, None], batch.obs * 3.0 + 1.0, batch.obs),
        next_obs=jnp.where(sel[:, None], -batch.next_obs, batch.next_obs),
        reward=jnp.where(sel, 50.0, batch.reward),
    )


def _sac_cfg(**kw):
    """Smaller PaCo config for the (compile-heavy) SAC-level tests."""
    base = dict(hidden=(8,))
    base.update(kw)
    return _cfg(**base)


@pytest.mark.parametrize("share_w", [True, False])
def test_masked_task_zero_gradient_through_sac_update(share_w):
    cfg = _sac_cfg(share_w=share_w, identical_init=False)
    algo = P.make_paco_sac(SACConfig(num_skills=T), cfg, mask_out=False)
    update = jax.jit(algo.update)
    state = algo.init(rkey(0))
    batch = make_batch(rkey(1))
    mask = (batch.skill_id != 2).astype(jnp.float32)
    s1, _, _ = update(state, batch, rkey(3), None, mask)
    s2, _, _ = update(state, _perturb_task(batch, 2), rkey(3), None, mask)
    jax.tree.map(np.testing.assert_array_equal, s1.sac.actor_params, s2.sac.actor_params)
    jax.tree.map(np.testing.assert_array_equal, s1.sac.critic_params, s2.sac.critic_params)
    # fresh Adam + zero gradient: the masked task's w rows do not move; the others do (with share_w a
    # component can cancel: Adam's first step is +-lr for each loss, and the two steps are summed)
    for p0, p1 in ((state.sac.actor_params, s1.sac.actor_params), (state.sac.critic_params, s1.sac.critic_params)):
        w0, w1 = np.asarray(P.get_w(p0)), np.asarray(P.get_w(p1))
        np.testing.assert_array_equal(w1[2], w0[2])
        assert not np.allclose(w1[[0, 1, 3]], w0[[0, 1, 3]])
    if share_w:
        np.testing.assert_array_equal(P.get_w(s1.sac.actor_params), P.get_w(s1.sac.critic_params))
        np.testing.assert_array_equal(P.get_w(s1.sac.target_critic_params), P.get_w(s1.sac.critic_params))


def test_plain_sac_update_masks_paco_w():
    """PaCo networks plug into sac.make_sac unchanged; a masked task's w gets zero gradient there too."""
    nets = P.make_paco_networks(_sac_cfg())
    algo = S.make_sac(SACConfig(num_skills=T), nets)
    state = algo.init(rkey(0))
    batch = make_batch(rkey(1))
    s1, m, _ = jax.jit(algo.update)(state, batch, rkey(2), None, (batch.skill_id != 1).astype(jnp.float32))
    np.testing.assert_array_equal(P.get_w(s1.critic_params)[1], P.get_w(state.critic_params)[1])
    np.testing.assert_array_equal(P.get_w(s1.actor_params)[1], P.get_w(state.actor_params)[1])
    assert m["critic_loss_per_skill"].shape == (T,)


def test_exact_mask_out_and_reset_in_sac():
    cfg = _sac_cfg(share_w=True)
    sac_cfg = SACConfig(num_skills=T)
    batch = make_batch(rkey(1))
    batch = batch.replace(reward=jnp.where(batch.skill_id == 3, 1e4, batch.reward))  # task 3 explodes
    algo = P.make_paco_sac(sac_cfg, cfg)  # exact mask-out + reset
    state = algo.init(rkey(0))
    s1, m, _ = jax.jit(algo.update)(state, batch, rkey(5))
    np.testing.assert_array_equal(m["paco_valid_per_skill"], [1, 1, 1, 0])
    assert float(m["paco_extreme_loss_per_skill"][3]) > 3e3 and int(m["paco_num_masked"]) == 1
    assert int(m["paco_total_resets"]) == 1
    np.testing.assert_array_equal(s1.counters.resets_per_skill, [0, 0, 0, 1])

    # reference: mask-out off, the user masks task 3 -> identical update except task 3's w (reset)
    ref = P.make_paco_sac(sac_cfg, cfg, mask_out=False)
    s_ref, _, _ = jax.jit(ref.update)(state, batch, rkey(5), None, (batch.skill_id != 3).astype(jnp.float32))

    def without_w(p):
        return {k: v for k, v in p["params"].items() if k != "w"}

    # (equal up to float rounding: the two programs are compiled differently)
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)  # noqa: E731
    for name in ("actor_params", "critic_params", "target_critic_params"):
        jax.tree.map(close, without_w(getattr(s1.sac, name)), without_w(getattr(s_ref.sac, name)))
    w = np.asarray(P.get_w(s1.sac.critic_params))
    w_ref = np.asarray(P.get_w(s_ref.sac.critic_params))
    close(w[:3], w_ref[:3])
    # task 3's w is a convex combination of the valid tasks' (post-update) w
    beta, *_ = np.linalg.lstsq(w_ref[:3].T, w[3], rcond=None)  # K=3 >= 3 valid tasks: unique
    np.testing.assert_allclose(w_ref[:3].T @ beta, w[3], atol=1e-5)
    assert np.all(beta >= -1e-4) and abs(beta.sum() - 1) < 1e-4
    for p in (s1.sac.actor_params, s1.sac.target_critic_params):  # shared w everywhere
        np.testing.assert_array_equal(P.get_w(p), w)


def test_lagged_mask_timing_resets_without_masking():
    batch = make_batch(rkey(1))
    batch = batch.replace(reward=jnp.where(batch.skill_id == 0, 1e4, batch.reward))
    algo = P.make_paco_sac(SACConfig(num_skills=T), _sac_cfg(share_w=False), mask_timing="lagged")
    s1, m, _ = jax.jit(algo.update)(algo.init(rkey(0)), batch, rkey(5))
    np.testing.assert_array_equal(m["paco_valid_per_skill"], [0, 1, 1, 1])
    assert int(s1.counters.total_resets) == 1
    # separate w: the target critic's reset row is the critic's new row
    np.testing.assert_array_equal(P.get_w(s1.sac.target_critic_params)[0], P.get_w(s1.sac.critic_params)[0])


# --------------------------------------------------------------------------------------------------
# w-reset


_RESET = jax.jit(P.reset_w, static_argnums=3)
_COEFS = jax.jit(P.reset_coefficients, static_argnums=2)


@settings(max_examples=20)
@given(
    t=st.just(4),
    extra_k=st.sampled_from([0, 2]),
    valid_bits=st.integers(0, 2**4 - 1),
    method=st.sampled_from(P.RESET_METHODS),
    seed=st.integers(0, 2**16),
)
def test_reset_w_in_convex_hull(t, extra_k, valid_bits, method, seed):
    k = t + extra_k  # K >= T: generic w rows are linearly independent -> unique coefficients
    valid = np.array([(valid_bits >> i) & 1 for i in range(t)], bool)
    w = np.random.default_rng(seed).normal(size=(t, k)).astype(np.float32)
    new = np.asarray(_RESET(jnp.asarray(w), jnp.asarray(valid), rkey(seed + 1), method))
    np.testing.assert_array_equal(new[valid], w[valid])
    if not valid.any():
        np.testing.assert_array_equal(new, w)  # nothing to interpolate from: unchanged
        return
    for i in np.flatnonzero(~valid):
        beta, *_ = np.linalg.lstsq(w[valid].T, new[i], rcond=None)
        np.testing.assert_allclose(w[valid].T @ beta, new[i], atol=1e-4)
        assert np.all(beta >= -1e-4), beta
        assert abs(beta.sum() - 1.0) < 1e-4
        if method == "copy":
            assert np.isclose(beta.max(), 1.0, atol=1e-4)
    beta = np.asarray(_COEFS(jnp.asarray(valid), rkey(seed), method))
    assert np.all(beta[:, ~valid] == 0)
    np.testing.assert_allclose(beta.sum(1), 1.0, rtol=1e-5)


def test_dirichlet_coefficients_are_uniform_on_simplex():
    valid = jnp.array([True, True, True, False])
    keys = jax.random.split(rkey(0), 2000)
    beta = np.asarray(jax.vmap(lambda k: P.reset_coefficients(valid, k)[3])(keys))[:, :3]
    # Dirichlet(1,1,1): marginal Beta(1, 2): mean 1/3, var 1/18; P(beta_0 > 1/2) = 1/4
    np.testing.assert_allclose(beta.mean(0), 1 / 3, atol=0.03)
    np.testing.assert_allclose(beta.var(0), 1 / 18, atol=0.01)
    np.testing.assert_allclose((beta[:, 0] > 0.5).mean(), 0.25, atol=0.03)


def test_counters():
    c = P.ResetCounters.zeros(3)
    c = P.update_counters(c, jnp.array([True, False, False]))
    c = P.update_counters(c, jnp.array([True, True, False]))
    assert int(c.num_masked) == 1 and int(c.total_resets) == 3
    np.testing.assert_array_equal(c.resets_per_skill, [0, 1, 2])
    c = P.update_counters(c, jnp.array([False, False, False]))  # nothing valid: no reset happens
    assert int(c.num_masked) == 3 and int(c.total_resets) == 3


def test_sync_shared_w_sums_both_steps():
    nets = _jnets(_cfg())
    ap, cp = nets.actor_init(rkey(0)), nets.critic_init(rkey(1))
    w0 = jnp.ones((T, K))
    ap, cp = P.set_w(ap, w0 + 0.1), P.set_w(cp, w0 - 0.3)
    a2, c2, t2 = P.sync_shared_w(w0, ap, cp, cp)
    for p in (a2, c2, t2):
        np.testing.assert_allclose(P.get_w(p), w0 - 0.2, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# TaCo task sampling


def test_uniform_and_weighted_probabilities():
    np.testing.assert_allclose(P.task_probabilities("uniform", 4), 0.25)
    p = P.task_probabilities("weighted", 3, weights=[1, 2, 1])
    np.testing.assert_allclose(p, [0.25, 0.5, 0.25])
    for bad in ([1, -1, 1], [0, 0, 0], [1, 2]):
        with pytest.raises(ValueError, match="weights"):
            P.task_probabilities("weighted", 3, weights=bad)
    with pytest.raises(ValueError, match="bogus"):
        P.task_probabilities("bogus", 3)


@settings(max_examples=25)
@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=12))
def test_grouped_probabilities(labels):
    t = len(labels)
    groups = [[i for i in range(t) if labels[i] == g] for g in sorted(set(labels))]
    p = P.task_probabilities("grouped", t, groups=groups)
    assert abs(p.sum() - 1.0) < 1e-12
    for g in groups:
        np.testing.assert_allclose(p[g], 1.0 / (len(groups) * len(g)))
        assert abs(p[g].sum() - 1.0 / len(groups)) < 1e-12


def test_grouped_rejects_non_partition():
    for groups in ([[0, 1], [1, 2]], [[0], [2]], [[0, 1, 2], []]):
        with pytest.raises(ValueError, match="groups"):
            P.task_probabilities("grouped", 3, groups=groups)


MT10 = [
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
]


def test_taco_mt10_preset():
    w = P.taco_mt10_weights(MT10)
    p = P.task_probabilities("weighted", 10, weights=w)
    doubled = [MT10.index(n) for n in ("pick-place-v3", "drawer-open-v3", "peg-insert-side-v3")]
    np.testing.assert_allclose(p[doubled], 2 / 13)
    np.testing.assert_allclose(np.delete(p, doubled), 1 / 13)
    with pytest.raises(ValueError, match="pick-place"):
        P.taco_mt10_weights(["reach-v3", "push-v3"])


def test_sample_tasks_frequencies():
    probs = jnp.array([0.5, 0.0, 0.3, 0.2])
    ids = np.asarray(jax.jit(P.sample_tasks, static_argnums=2)(rkey(0), probs, 20000))
    assert ids.dtype == np.int32 and ids.shape == (20000,)
    freq = np.bincount(ids, minlength=4) / ids.size
    np.testing.assert_allclose(freq, probs, atol=0.015)
    assert freq[1] == 0


def test_dbscan_grouping_on_clusters():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 20)) * 10
    members = [0, 0, 1, 2, 1, 0, 2, 1, 2]
    theta = np.stack([centers[c] + 0.05 * rng.normal(size=20) for c in members] + [rng.normal(size=20) * 10 + 100])
    groups, probs = P.taco_online_probabilities(theta, eps=1.0, min_samples=2)
    expect = [[0, 1, 5], [2, 4, 7], [3, 6, 8], [9]]  # the outlier (noise) is its own group
    assert groups == expect
    np.testing.assert_allclose(probs[[0, 1, 5]], 1 / 12)
    np.testing.assert_allclose(probs[9], 1 / 4)
    assert abs(probs.sum() - 1) < 1e-12
    # a huge eps merges everything; a tiny one makes singletons (all noise)
    assert P.group_tasks_dbscan(theta, eps=1e6) == [list(range(10))]
    assert P.group_tasks_dbscan(theta, eps=1e-6) == [[i] for i in range(10)]


def test_dbscan_on_paco_thetas_runs():
    nets = _jnets(_cfg())
    theta = P.task_parameters(nets.actor_init(rkey(0)))
    groups = P.group_tasks_dbscan(theta, eps=1e-3)
    assert sorted(t for g in groups for t in g) == list(range(T))


# --------------------------------------------------------------------------------------------------
# the properties, property-based (fixed shapes: one compile each, many random draws)

import functools  # noqa: E402


@functools.lru_cache(maxsize=None)
def _cached_nets(num_skills, k, mix_mode):
    return _jnets(_cfg(num_skills=num_skills, num_param_sets=k, identical_init=False, mix_mode=mix_mode))


@functools.lru_cache(maxsize=None)
def _masked_grad_fn():
    nets = _cached_nets(T, K, "structured")

    def loss(p, obs, tid, mask):
        mean, log_std = nets.actor_apply(p, obs, tid)
        per_sample = jnp.sum(mean**2 + log_std, axis=-1)
        return jnp.sum(jnp.where(mask > 0, per_sample, 0.0)) / jnp.maximum(mask.sum(), 1)

    return jax.jit(jax.grad(loss)), nets


@settings(max_examples=10)
@given(masked=st.integers(0, T - 1), seed=st.integers(0, 2**16), balanced=st.booleans())
def test_property_masked_task_zero_gradient(masked, seed, balanced):
    """A masked task's samples produce exactly zero gradient: its w row gets 0, and perturbing its
    samples changes no gradient (balanced batch: structured fast path; random batch: "outputs")."""
    grad, nets = _masked_grad_fn()
    params = nets.actor_init(rkey(seed))
    obs = jax.random.normal(rkey(seed + 1), (B, O))
    rng = np.random.default_rng(seed)
    tid = jnp.asarray(rng.permutation(np.arange(B) % T) if balanced else rng.integers(0, T, B), jnp.int32)
    valid = jnp.arange(T) != masked
    mask = P.sample_mask_from_tasks(valid, tid)
    g = grad(params, obs, tid, mask)
    np.testing.assert_array_equal(P.get_w(g)[masked], np.zeros(K))
    obs2 = jnp.where((tid == masked)[:, None], 50.0 * obs - 3.0, obs)
    jax.tree.map(np.testing.assert_array_equal, grad(params, obs2, tid, mask), g)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**16), w_scale=st.floats(0.1, 3.0))
def test_property_k1_is_a_plain_network(seed, w_scale):
    """K = 1: theta_t = w_t Phi, so with w = 1 the PaCo actor is a plain MLP for every task, and with a
    scalar w_t the first layer's pre-activation is scaled (checked via the w = 1 network on scaled sets)."""
    nets = _cached_nets(T, 1, "outputs")
    params = nets.actor_init(rkey(seed))
    obs = jax.random.normal(rkey(seed + 1), (B, O))
    tid = jnp.asarray(np.random.default_rng(seed).integers(0, T, B), jnp.int32)
    mean, log_std = nets.actor_apply(P.set_w(params, jnp.ones((T, 1))), obs, tid)
    ref = _mlp_reference(obs, _actor_set(params, 0))
    np.testing.assert_allclose(mean, ref[:, :A], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(log_std, np.clip(ref[:, A:], -10.0, 2.0), rtol=1e-4, atol=1e-5)
    # any w: equals the plain MLP whose every layer (kernel and bias) is scaled by w_t
    w = jnp.full((T, 1), w_scale)
    mean_w, _ = nets.actor_apply(P.set_w(params, w), obs, tid)
    scaled = [(w_scale * kern, w_scale * b) for kern, b in _actor_set(params, 0)]
    np.testing.assert_allclose(mean_w, _mlp_reference(obs, scaled)[:, :A], rtol=1e-4, atol=1e-4)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**16), layout=st.sampled_from(["random", "balanced"]))
def test_property_onehot_w_is_k_independent_networks(seed, layout):
    """T = K tasks with one-hot w: task k's outputs are network k's (a plain MLP on parameter set k),
    in a batch that mixes tasks, on both the structured and the "outputs" path."""
    rng = np.random.default_rng(seed)
    tid = rng.permutation(np.arange(B) % K) if layout == "balanced" else rng.integers(0, K, B)
    obs = jax.random.normal(rkey(seed + 1), (B, O))
    for mode in ("structured", "outputs"):
        nets = _cached_nets(K, K, mode)
        params = P.set_w(nets.actor_init(rkey(seed)), jnp.eye(K))
        mean, _ = nets.actor_apply(params, obs, jnp.asarray(tid, jnp.int32))
        for k in range(K):
            rows = np.flatnonzero(tid == k)
            if rows.size:
                ref = _mlp_reference(obs[rows], _actor_set(params, k))[:, :A]
                np.testing.assert_allclose(np.asarray(mean)[rows], ref, rtol=1e-4, atol=1e-5)
