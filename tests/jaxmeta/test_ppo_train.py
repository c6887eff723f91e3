"""PPO in the trainer (``--algo ppo``, jaxmeta.agents.ppo.train) on the pure-JAX toy env: it learns, a
resumed run equals an uninterrupted one bit for bit, evaluation leaves training unchanged, checkpoints
evaluate through the policy export, and bad options fail before anything compiles."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta import cli
from jaxmeta.checkpoint import latest_step, restore_policy
from jaxmeta.config import preset
from jaxmeta.networks import NetworkConfig
from jaxmeta.train import make_train, train
from tests.jaxmeta.run_helpers import assert_cli_error, forbid_training, metrics_rows, restore_full_state

TOY = dict(
    benchmark="toy/2",
    envs_per_skill=8,
    steps_per_update=16,
    max_path_length=20,
    total_steps=1280,
    chunk_steps=256,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=8,
    eval_every=512,
    checkpoint_every=512,
    keep_checkpoints=3,
    ppo=dict(num_minibatches=4, num_epochs=4),
)


def ppo_cfg(**kw):
    return preset("ppo", **{**TOY, **kw})


def test_ppo_learns_the_toy_env():
    """The chunked PPO loop (rollout of 16 batched steps, one update) lifts the deterministic policy's
    evaluation success well above the untrained policy's on the 2-skill toy env."""
    cfg = ppo_cfg(envs_per_skill=16, max_path_length=50, chunk_steps=8192, eval_episodes=16, network=NetworkConfig())
    tr = make_train(cfg)
    run = jax.jit(tr.run, static_argnums=2)
    ts = tr.init(tr.seed_key(0))
    before = run(ts, jax.random.PRNGKey(1), True)[2]
    for _ in range(6):  # 48k env steps, 96 PPO updates
        ts, m, _ = run(ts, jnp.zeros(2, jnp.uint32), False)
    after = run(ts, jax.random.PRNGKey(1), True)[2]
    m = jax.device_get(m)
    assert int(m["updates"]) == 6 * cfg.iters_per_chunk == 96
    assert float(before["success"]) < 0.2 and float(after["success"]) >= 0.7
    assert float(m["episode_success"]) >= 0.8  # the sampling policy succeeds too
    for k in ("policy_loss", "value_loss", "approx_kl", "clip_fraction", "explained_variance", "entropy"):
        assert np.isfinite(m[k]), k
    assert float(m["nonfinite_update"]) == 0.0


def test_evaluating_leaves_the_training_state_unchanged():
    """The one run program (traced `evaluating`) evaluates without touching the rollout, agent, env,
    keys or counters: a chunk after an evaluation equals a chunk without one."""
    cfg = ppo_cfg()
    tr = make_train(cfg)
    run = jax.jit(tr.run)
    ts = tr.init(tr.seed_key(0))
    ts1, _, _ = run(ts, jnp.zeros(2, jnp.uint32), jnp.bool_(False))
    ev_ts, _, ev = run(jax.tree.map(jnp.copy, ts1), jax.random.PRNGKey(3), jnp.bool_(True))
    jax.tree.map(np.testing.assert_array_equal, ev_ts, ts1)
    assert float(ev["episodes_per_skill"].min()) == cfg.eval_episodes
    a = run(ts1, jnp.zeros(2, jnp.uint32), jnp.bool_(False))[0]
    b = run(ev_ts, jnp.zeros(2, jnp.uint32), jnp.bool_(False))[0]
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_seed_zero_of_a_multi_seed_run_is_the_single_run():
    cfg1, cfg3 = ppo_cfg(), ppo_cfg(num_seeds=3)
    t1, t3 = make_train(cfg1), make_train(cfg3)
    s1, m1 = jax.jit(t1.chunk)(t1.init(t1.seed_key(0)))
    s3, m3 = jax.jit(t3.chunk_batch)(t3.init_batch(t3.run_key()))
    np.testing.assert_allclose(m3["policy_loss"][0], m1["policy_loss"], rtol=1e-5)
    np.testing.assert_allclose(m3["episode_return"][0], m1["episode_return"], rtol=1e-5)
    assert not np.allclose(m3["policy_loss"][1], m3["policy_loss"][0])  # the seeds differ
    np.testing.assert_allclose(s3.agent.obs_stats.mean[0], s1.agent.obs_stats.mean, rtol=1e-5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted 5-chunk PPO run, and one stopped after 3 chunks and resumed."""
    base = tmp_path_factory.mktemp("ppo")
    a, b = base / "a", base / "b"
    sa = train(ppo_cfg(out=str(a)), progress=False)
    sb1 = train(ppo_cfg(out=str(b)), progress=False, max_chunks=3)
    assert not sb1["completed"] and latest_step(b) == 768
    sb2 = train(ppo_cfg(out=str(b)), progress=False, resume=True)
    return a, b, sa, sb2


def test_resume_equals_uninterrupted(runs):
    a, b, sa, sb = runs
    assert sa["completed"] and sb["completed"] and sb["resumed_from_chunk"] == 3
    assert sa["algo"] == "ppo" and sa["replay"] == "on-policy"
    assert metrics_rows(a) == metrics_rows(b)
    assert sa["final_eval"] == sb["final_eval"]
    sta, _ = restore_full_state(a, ppo_cfg(out=str(a)))
    stb, meta = restore_full_state(b, ppo_cfg(out=str(b)))
    assert meta["chunk"] == 5
    jax.tree.map(np.testing.assert_array_equal, sta, stb)
    rows = [r for r in metrics_rows(a) if r["kind"] == "train"]
    assert all(r["approx_kl"] != "" and r["policy_loss"] != "" for r in rows)  # PPO columns are logged


def test_policy_export_acts_like_the_trained_state(runs):
    """`restore_policy` of a PPO checkpoint + the learner's `Networks` view (what ``jaxmeta eval``
    uses) gives the state's deterministic action: clip(mean) of the normalised observation."""
    a = runs[0]
    cfg = ppo_cfg(out=str(a))
    tr = make_train(cfg)
    state, _ = restore_full_state(a, cfg)
    pol = restore_policy(a)
    obs = jax.random.normal(jax.random.PRNGKey(0), (6, tr.env.observation_size))
    skill = jnp.array([0, 1, 0, 1, 0, 1], jnp.int32)
    want = tr.learner.networks.deterministic_action(tr.learner.actor_params(state.agent), obs, skill)
    got = tr.learner.networks.deterministic_action(pol["actor_params"], obs, skill)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert float(jnp.max(jnp.abs(got))) <= 1.0
    assert float(state.agent.obs_stats.count) > 0  # the statistics the policy acts with were learned


def test_a_ppo_run_is_not_a_finetuning_source(runs):
    from jaxmeta.finetune import finetune_config

    with pytest.raises(ValueError, match="is a 'ppo' run: fine-tuning continues a SAC-family run"):
        finetune_config(str(runs[0]), benchmark="toy/2")


# ---------------------------------------------------------------------------------------- the CLI
def _config(argv):
    return cli.build_config(cli.parser().parse_args(["train", *argv]))


def test_algo_ppo_starts_from_the_ppo_preset():
    cfg = _config(["--algo", "ppo", "--lr", "1e-3", "--discount", "0.95", "--rollout-length", "64"])
    base = preset("ppo")
    assert (cfg.warmup_steps, cfg.updates_per_step, cfg.steps_per_update) == (0, 1, 64)
    assert cfg.ppo.learning_rate == 1e-3 and cfg.ppo.discount == 0.95
    assert cfg.sac == base.sac  # the SAC fields --lr / --discount also name are left alone
    cfg = _config(["--algo", "ppo", "--epochs", "3", "--minibatches", "16", "--clip-eps", "0.1"])
    assert (cfg.ppo.num_epochs, cfg.ppo.num_minibatches, cfg.ppo.clip_eps) == (3, 16, 0.1)
    sac = _config(["--lr", "3e-4"])  # a SAC run: --lr leaves the (unused) PPO options as they were
    assert sac.sac.actor_lr == 3e-4 and sac.ppo == preset("default").ppo


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--algo", "ppo", "--minibatches", "7"], r"2048 samples do not split into ppo\.num_minibatches = 7"),
        (["--algo", "ppo", "--per"], r"TrainConfig\.per=True: algo 'ppo' is on-policy"),
        (["--algo", "ppo", "--warmup-steps", "1000"], r"warmup_steps must be 0 for algo 'ppo', got 1000"),
        (["--algo", "ppo", "--updates-per-step", "4"], r"updates_per_step must be 1 for algo 'ppo', got 4"),
        (["--preset", "default", "--algo", "ppo"], r"warmup_steps must be 0 for algo 'ppo', got 4000"),
        (["--algo", "ppo", "--clip-eps", "-1"], r"PPOConfig\.clip_eps must be > 0, got -1"),
    ],
)
def test_bad_ppo_options_fail_before_compiling(argv, message, capsys, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    assert_cli_error(["train", *argv, "--out", str(tmp_path / "r")], message, capsys)
    assert not (tmp_path / "r").exists()


def test_resuming_a_ppo_run_accepts_its_own_flags_again(runs, capsys, monkeypatch):
    """--resume with the run's flags repeated (--algo ppo, --lr of its PPO optimiser) is accepted; a
    changed PPO option is named."""
    import jaxmeta.driver as driver_mod

    monkeypatch.setattr(driver_mod, "train", lambda cfg, **k: {"completed": True, "config": cfg})
    a = str(runs[0])
    args = cli.parser().parse_args(["train", "--resume", "--out", a, "--algo", "ppo", "--lr", "3e-4"])
    cfg = cli.resume_config(
        args, cli.given_flags(["train", "--resume", "--out", a, "--algo", "ppo", "--lr", "3e-4"], args)
    )
    assert cfg.algo == "ppo" and cfg.ppo.learning_rate == 3e-4
    argv = ["--resume", "--out", a, "--clip-eps", "0.3"]
    args = cli.parser().parse_args(["train", *argv])
    with pytest.raises(ValueError, match=r"--clip-eps 0\.3 differs from the run's saved config \(ppo\.clip_eps 0\.2\)"):
        cli.resume_config(args, cli.given_flags(["train", *argv], args))


def test_jaxmeta_eval_runs_a_ppo_checkpoint(runs, capsys):
    """``jaxmeta eval`` (memoryless rollout of the policy export) works on a PPO run as on a SAC one."""
    assert cli.main(["eval", str(runs[0]), "--episodes", "4"]) == 0
    out = capsys.readouterr().out
    assert "ppo" in out and "toy-0" in out and "toy-1" in out
