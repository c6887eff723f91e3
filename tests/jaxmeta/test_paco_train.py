"""PaCo / TaCo in the trainer (algos ``paco`` / ``taco``), TaCo task-weighted batches, TaCo-online
re-grouping, TaCo transfer (phase 2) and the transfer metrics -- on the tiny pure-JAX toy env."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmeta import paco as P
from jaxmeta import cli
from jaxmeta.checkpoint import latest_step, restore_policy
from jaxmeta.config import ALGOS, PRESETS, TrainConfig
from jaxmeta.networks import NetworkConfig
from jaxmeta.paco import PaCoOptions
from jaxmeta.paco_learner import online_groups, transfer_phase_is_exploring
from jaxmeta.replay import make_replay
from jaxmeta.sac import Transition
from jaxmeta.taco import relative_transfer_cost, restrict_transfer_update, steps_to_success, transfer_metrics
from jaxmeta.train import make_train, train
from tests.jaxmeta.run_helpers import metrics_rows, restore_full_state

KW = dict(
    benchmark="toy/3",
    algo="taco",
    envs_per_skill=2,
    max_path_length=20,
    total_steps=480,
    warmup_steps=120,
    chunk_steps=120,
    batch_size=30,
    buffer_capacity=2048,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=2,
    eval_every=240,
    checkpoint_every=240,
    keep_checkpoints=3,
    paco=PaCoOptions(num_param_sets=3, task_sampling="online", online_every=0),
)


def cfg_at(path, **kw) -> TrainConfig:
    return TrainConfig(**{**KW, **kw, "out": str(path)})


# --------------------------------------------------------------------------------------------- config
def test_registry_presets_and_json_roundtrip():
    assert {"paco", "taco"} <= set(ALGOS)
    c = PRESETS["paco-mt10"]
    assert c.algo == "paco" and c.paco.num_param_sets == 5 and c.paco.loss_threshold == 3e3
    assert c.batch_size == 1280 and c.network.hidden == (400, 400, 400) and c.max_path_length == 150
    assert c.sac.alpha_lr == 1e-4 and (c.paco.log_alpha_min, c.paco.log_alpha_max) == (-10.0, 0.0)
    t = PRESETS["taco-mt10"]
    p = P.initial_task_probabilities(t.paco, t.skills)
    doubled = [s for s, x in zip(t.skills, p) if x > min(p) * 1.5]
    assert sorted(doubled) == ["drawer-open-v3", "peg-insert-side-v3", "pick-place-v3"]
    for cfg in (
        t,
        PRESETS["taco-online-mt10"],
        TrainConfig(
            benchmark="toy/4", algo="taco", paco=PaCoOptions(task_sampling="grouped", task_groups=[[0, 2], [1], [3]])
        ),
    ):
        assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    g = TrainConfig(benchmark="toy/4", algo="taco", paco={"task_sampling": "grouped", "task_groups": [[0, 2], [1, 3]]})
    assert g.paco.task_groups == ((0, 2), (1, 3)) and g.balanced  # taco uses the per-skill replay
    assert g.replace(**{"paco.num_param_sets": 2}).paco.num_param_sets == 2


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(paco=PaCoOptions(num_param_sets=0)), "num_param_sets must be an int >= 1, got 0"),
        (dict(paco=PaCoOptions(loss_threshold=-1.0)), "loss_threshold must be a finite number > 0, got -1.0"),
        (dict(paco=PaCoOptions(mix_mode="fast")), "mix_mode must be one of .*got 'fast'"),
        (dict(paco=PaCoOptions(task_sampling="weighted", task_weights=(1.0, 1.0))), "task_weights"),
        (dict(paco=PaCoOptions(task_sampling="weighted", task_weights=(1.0, -1.0, 1.0))), "non-negative"),
        (dict(paco=PaCoOptions(task_sampling="grouped", task_groups=((0, 1),))), "partition"),
        (dict(paco=PaCoOptions(task_sampling="grouped")), "needs paco.task_groups"),
        (dict(algo="paco", paco=PaCoOptions(task_sampling="online")), "needs algo 'taco'"),
        (dict(paco=PaCoOptions(task_sampling="weighted", upweighted_skills=("push",))), r"\['push'\] not found"),
        (dict(paco=PaCoOptions(log_alpha_min=1.0)), "log_alpha_min must be < log_alpha_max"),
        (dict(paco=PaCoOptions(online_eps=0.0)), "online_eps must be a finite number > 0, got 0.0"),
        (dict(paco=PaCoOptions(transfer_w_init="copy")), "transfer_w_init must be one of"),
        (dict(paco={"num_sets": 3}), r"unknown TrainConfig.paco field\(s\) \['num_sets'\]"),
        (dict(per=True), "cannot use per"),
    ],
)
def test_bad_options_raise_value_error(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{**KW, **kw})


def test_cli_dry_run_paco_and_taco(capsys, monkeypatch):
    import jaxmeta.driver as driver_mod

    monkeypatch.setattr(driver_mod, "make_train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("compiled")))
    assert cli.main(["train", "--benchmark", "toy/3", "--algo", "paco", "--param-sets", "3", "--dry-run"]) == 0
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    assert cfg["algo"] == "paco" and cfg["paco"]["num_param_sets"] == 3
    assert cli.main(["train", "--preset", "taco-mt10", "--dry-run"]) == 0
    assert '"task_sampling": "weighted"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--benchmark", "toy/3", "--algo", "taco", "--task-sampling", "bogus", "--dry-run"])
    assert e.value.code == 2 and "task_sampling must be one of" in capsys.readouterr().err


# --------------------------------------------------------------------------------- task-weighted batches
_ALLOC = jax.jit(P.allocate_tasks, static_argnums=2)


@settings(max_examples=25)
@given(
    raw=st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 10.0)), min_size=5, max_size=5),  # no float32 underflow
    avail_bits=st.integers(1, 2**5 - 1),
    seed=st.integers(0, 2**16),
)
def test_allocate_tasks_stratified(raw, avail_bits, seed):
    b = 30
    avail = np.array([(avail_bits >> i) & 1 for i in range(5)], bool)
    tids = np.asarray(_ALLOC(jax.random.PRNGKey(seed), jnp.asarray(raw, jnp.float32), b, jnp.asarray(avail)))
    assert tids.shape == (b,) and np.all(np.diff(tids) >= 0)
    counts = np.bincount(tids, minlength=5)
    assert counts.sum() == b and np.all(counts[~avail] == 0)
    p = np.where(avail, raw, 0.0)
    p = p / p.sum() if p.sum() > 0 else avail / avail.sum()
    assert np.all(np.abs(counts - b * p) < 1 + 1e-3), (counts, b * p)


def test_allocate_tasks_unbiased_and_uniform_exact():
    p = jnp.array([0.1, 0.25, 0.65])
    keys = jax.random.split(jax.random.PRNGKey(0), 400)
    counts = jax.vmap(lambda k: jnp.bincount(P.allocate_tasks(k, p, 7), length=3))(keys)
    np.testing.assert_allclose(np.asarray(counts).mean(0), 7 * np.asarray(p), atol=0.1)
    np.testing.assert_array_equal(np.bincount(np.asarray(_ALLOC(keys[0], jnp.full(5, 0.2), 30, None)), minlength=5), 6)


def test_replay_sample_in_tasks():
    buf = make_replay(256, 3, "balanced")
    ex = {"x": jnp.zeros(()), "skill_id": jnp.zeros((), jnp.int32)}
    st_ = buf.init(ex)
    tids = jnp.array([0, 1, 1, 2, 2, 2] * 20, jnp.int32)
    st_ = buf.add(st_, {"x": jnp.arange(120, dtype=jnp.float32), "skill_id": tids})
    want = jnp.array([2, 2, 0, 1, 2, 0, 0, 0], jnp.int32)
    batch, info = jax.jit(buf.sample_in_skills)(st_, jax.random.PRNGKey(1), want)
    np.testing.assert_array_equal(batch["skill_id"], want)
    np.testing.assert_array_equal(np.asarray(tids)[np.asarray(info.indices)], want)
    with pytest.raises(ValueError, match="balanced"):
        make_replay(16, 3).sample_in_skills(make_replay(16, 3).init(ex), jax.random.PRNGKey(0), want)


def test_online_groups_balances_clusters():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(2, 50)) * 10
    theta = np.concatenate([centers[0] + 0.01 * rng.normal(size=(3, 50)), centers[1] + 0.01 * rng.normal(size=(1, 50))])
    groups, p = online_groups(theta, 0.5, 1)
    assert groups == [[0, 1, 2], [3]]
    np.testing.assert_allclose(p, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert online_groups(np.ones((3, 4)), 0.5, 2)[0] == [[0, 1, 2]]  # identical thetas: one group


# ------------------------------------------------------------------------------ trainer end-to-end
@pytest.fixture(scope="module")
def taco_runs(tmp_path_factory):
    """TaCo-online on toy/3: an uninterrupted 4-chunk run and one stopped after 3 chunks and resumed."""
    base = tmp_path_factory.mktemp("taco")
    a, b = base / "a", base / "b"
    sa = train(cfg_at(a), progress=False)
    sb1 = train(cfg_at(b), progress=False, max_chunks=3)
    assert not sb1["completed"] and latest_step(b) == 360
    sb2 = train(cfg_at(b), progress=False, resume=True)
    return a, b, sa, sb2


def test_taco_trains_logs_counters_and_resumes_exactly(taco_runs):
    a, b, sa, sb = taco_runs
    assert sa["completed"] and sb["completed"] and sb["resumed_from_chunk"] == 3
    ra, rb = metrics_rows(a), metrics_rows(b)
    assert ra == rb
    train_rows = [r for r in ra if r["kind"] == "train"]
    assert len(train_rows) == 4
    for r in train_rows[1:]:  # chunk 1 is warm-up only
        for col in (
            "critic_loss",
            "actor_loss",
            "paco_num_masked",
            "paco_total_resets",
            "taco_p_min",
            "taco_p_max",
            "taco_num_groups",
        ):
            assert math.isfinite(float(r[col])), (col, r[col])
    sta, _ = restore_full_state(a, cfg_at(a))
    stb, _ = restore_full_state(b, cfg_at(b))
    jax.tree.map(np.testing.assert_array_equal, sta, stb)
    probs = np.asarray(sta.agent.task_probs)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-6)
    # the online grouping ran: num_groups is the DBSCAN result, the probabilities its balance
    groups, p = online_groups(P.task_parameters(sta.agent.paco.sac.actor_params), 0.5, 2)
    np.testing.assert_allclose(probs, p, rtol=1e-6)
    assert int(sta.agent.num_groups) == len(groups)
    pol = restore_policy(a)
    assert P.get_w(pol["actor_params"]).shape == (3, 3)


def test_paco_chunks_finite_with_mask_counters(tmp_path):
    cfg = TrainConfig(
        **{**KW, "algo": "paco", "balanced": True, "paco": PaCoOptions(num_param_sets=3, loss_threshold=5.0)}
    )
    tr = make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    chunk = jax.jit(tr.chunk, donate_argnums=0)
    for _ in range(2):
        ts, m = chunk(ts)
    m = jax.device_get(m)
    assert np.isfinite(m["critic_loss"]) and int(m["updates"]) > 0
    # a tiny threshold masks tasks (w-reset only when some task stays valid): the counters see it
    assert m["paco_num_masked"] > 0
    assert m["paco_total_resets"] == float(jnp.sum(ts.agent.paco.counters.resets_per_skill))
    assert float(jnp.max(ts.agent.paco.sac.log_alpha)) <= 0.0  # official clamp [-10, 0]
    # evaluate_checkpoint-style rebuild of the networks needs no buffer
    nets = ALGOS["paco"].make_learner(cfg).networks
    a = nets.deterministic_action(ts.agent.paco.sac.actor_params, jnp.zeros((3, 39)), jnp.arange(3))
    assert a.shape == (3, 4)


# ------------------------------------------------------------------------------------- TaCo transfer
def test_transfer_explores_then_trains(taco_runs):
    src_dir = taco_runs[0]
    cfg = TrainConfig(
        benchmark="toy/2",
        algo="paco",
        envs_per_skill=2,
        max_path_length=20,
        total_steps=120,
        warmup_steps=0,
        chunk_steps=40,
        batch_size=16,
        buffer_capacity=1024,
        network=NetworkConfig(hidden=(32, 32)),
        eval_episodes=2,
        balanced=True,
        paco=PaCoOptions(num_param_sets=3, transfer_from=str(src_dir), transfer_explore_steps=80),
    )
    tr = make_train(cfg)
    ts0 = jax.jit(tr.init)(tr.seed_key(0))
    src = restore_policy(src_dir)["actor_params"]
    jax.tree.map(np.testing.assert_array_equal, ts0.agent.paco.sac.actor_params["params"]["mlp"], src["params"]["mlp"])
    np.testing.assert_array_equal(ts0.agent.explore_basis, P.get_w(src))
    assert P.get_w(ts0.agent.paco.sac.actor_params).shape == (2, 3)
    chunk = jax.jit(tr.chunk)
    ts1, m1 = chunk(ts0)
    ts2, m2 = chunk(ts1)
    ts3, m3 = chunk(ts2)
    # exploration (env steps < 80): critic trains, the actor (Phi and w) and the temperature do not
    assert float(m1["taco_exploring"]) == 1.0 and float(m2["taco_exploring"]) == 1.0
    jax.tree.map(np.testing.assert_array_equal, ts2.agent.paco.sac.actor_params, ts0.agent.paco.sac.actor_params)
    np.testing.assert_array_equal(ts2.agent.paco.sac.log_alpha, ts0.agent.paco.sac.log_alpha)
    moved = jax.tree.map(
        lambda x, y: bool(jnp.any(x != y)), ts2.agent.paco.sac.critic_params, ts0.agent.paco.sac.critic_params
    )
    assert any(jax.tree.leaves(moved))
    # the exploring policies are not the new task's policy: random subspace points, one per env
    assert float(m3["taco_exploring"]) == 0.0 and int(m3["updates"]) > int(m2["updates"])
    moved = jax.tree.map(
        lambda x, y: bool(jnp.any(x != y)), ts3.agent.paco.sac.actor_params, ts2.agent.paco.sac.actor_params
    )
    assert all(jax.tree.leaves(moved))
    # the phase bookkeeping: update u belongs to iteration ceil(16/4) - 1 + u (updates_per_step 2 -> u // 2)
    assert bool(transfer_phase_is_exploring(cfg, jnp.int32(2 * (20 - 3) - 1)))
    assert not bool(transfer_phase_is_exploring(cfg, jnp.int32(2 * (20 - 3))))
    # fixed-Phi variant of the update rule: after exploration only w (and the critic) move
    old = ts2.agent.paco.sac
    new = jax.tree.map(lambda x: x + 1 if jnp.issubdtype(x.dtype, jnp.floating) else x, old)
    r = restrict_transfer_update(old, new, jnp.bool_(False), fixed_phi=True, share_w=True)
    jax.tree.map(np.testing.assert_array_equal, r.actor_params["params"]["mlp"], old.actor_params["params"]["mlp"])
    np.testing.assert_array_equal(P.get_w(r.actor_params), P.get_w(new.actor_params))
    np.testing.assert_array_equal(P.get_w(r.critic_params), P.get_w(new.actor_params))
    r = restrict_transfer_update(old, new, jnp.bool_(True), fixed_phi=False, share_w=True)
    jax.tree.map(np.testing.assert_array_equal, r.actor_params, old.actor_params)
    jax.tree.map(np.testing.assert_array_equal, r.critic_params["params"]["q"], new.critic_params["params"]["q"])


def test_transfer_rejects_bad_source(taco_runs, tmp_path):
    with pytest.raises(ValueError, match="network.hidden"):
        make_train(
            TrainConfig(
                benchmark="toy/1",
                algo="paco",
                network=NetworkConfig(hidden=(16,)),
                paco=PaCoOptions(num_param_sets=3, transfer_from=str(taco_runs[0])),
            )
        )
    with pytest.raises(ValueError, match="not a jaxmeta run directory"):
        make_train(TrainConfig(benchmark="toy/1", algo="paco", paco=PaCoOptions(transfer_from=str(tmp_path))))


# ------------------------------------------------------------------------------------ transfer metrics
def _eval_row(seed, steps, succ):
    return {"kind": "eval", "seed": str(seed), "env_steps": str(steps), "eval_success": str(succ)}


def test_transfer_metrics():
    rows = [
        _eval_row(0, 100, 0.5),
        _eval_row(0, 200, 0.9),
        _eval_row(0, 300, 0.4),
        _eval_row(1, 100, 0.2),
        _eval_row(1, 200, 0.8),
        _eval_row(1, 300, 1.0),
        _eval_row(2, 100, 0.1),
        _eval_row(2, 300, 0.5),
        {"kind": "train", "seed": "0", "env_steps": "50"},
    ]
    assert steps_to_success(rows) == {0: 200, 1: 300, 2: None}
    m = transfer_metrics(rows)
    assert m["n"] == 250 and m["alpha"] == pytest.approx(2 / 3) and m["cost"] == pytest.approx(375)
    m2 = transfer_metrics(rows, n_max=250)
    assert m2["per_seed"] == {0: 200, 1: None, 2: None} and m2["cost"] == pytest.approx(600)
    assert relative_transfer_cost(m, m2) == pytest.approx(375 / 600)
    assert relative_transfer_cost(transfer_metrics(rows, threshold=1.1), m) == math.inf
    assert relative_transfer_cost(m, transfer_metrics(rows, threshold=1.1)) == 0.0


def test_transfer_metrics_from_run_dir(taco_runs):
    m = transfer_metrics(taco_runs[0], threshold=0.0)
    assert m["alpha"] == 1.0 and m["n"] == 240  # first evaluation (chunk 2)


@pytest.mark.parametrize("mode", ["sample", "reweight"])
def test_taco_learner_update_modes(mode):
    """One TaCo update straight from a filled replay in both batch modes (composition: see the
    allocate_tasks tests): finite losses, the replay is left untouched (no PER)."""
    cfg = TrainConfig(
        **{
            **KW,
            "paco": PaCoOptions(
                num_param_sets=2, task_sampling="weighted", task_weights=(4.0, 1.0, 1.0), task_sampling_mode=mode
            ),
        }
    )
    buf = make_replay(256, 3, "balanced")
    learner = ALGOS["taco"].make_learner(cfg, buf)
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    n = 120
    items = Transition(
        obs=jax.random.normal(k[0], (n, 39)),
        action=jax.random.uniform(k[1], (n, 4), minval=-1, maxval=1),
        reward=jax.random.normal(k[2], (n,)),
        next_obs=jax.random.normal(k[3], (n, 39)),
        discount=jnp.ones((n,)),
        skill_id=jnp.arange(n, dtype=jnp.int32) % 3,
    )
    replay = buf.add(buf.init(jax.tree.map(lambda x: x[0], items)), items)
    state = learner.init(jax.random.PRNGKey(1))
    np.testing.assert_allclose(state.task_probs, [2 / 3, 1 / 6, 1 / 6], rtol=1e-6)
    s1, r1, m = jax.jit(learner.update)(state, replay, jax.random.PRNGKey(2))
    assert np.isfinite(float(m["critic_loss"])) and int(s1.paco.sac.step) == 1
    assert r1 is replay or jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), r1, replay))
