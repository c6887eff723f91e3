"""envs.adapters.brax_env: the State contract under brax's training wrappers, clear errors, and (slow)
brax's own PPO learning reach-v3 through it. Skipped where brax (the optional extra) is not installed."""

from __future__ import annotations

import envs  # noqa: I001  (before jax: sets XLA_FLAGS)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

brax = pytest.importorskip("brax", reason="optional dependency: pip install -e '.[brax]'")


def test_brax_bad_arguments_are_clear_errors():
    from envs.adapters import brax_env

    with pytest.raises(ValueError, match="reach-v3"):
        brax_env("reach-v9")
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        brax_env("reach-v3", split="val")
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        brax_env("reach-v3", seed=-1)
    with pytest.raises(ValueError, match=r"'reach-v3' is not in MT10's test split"):
        brax_env("reach-v3", benchmark="MT10", split="test")


@pytest.fixture(scope="module")
def reach_brax():
    from envs.adapters import brax_env

    return brax_env("reach-v3")


def test_brax_state_contract(reach_brax):
    """reset(rng) draws a task row (its goal in obs); State fields, dtypes and shapes as brax expects;
    brax's training wrappers (vmap, episode truncation, auto-reset) run on it."""
    from brax.envs.wrappers.training import wrap

    env = reach_brax
    assert (env.observation_size, env.action_size, env.backend) == (39, 4, "mjx")
    assert env.dt == pytest.approx(0.0125)
    goals = np.asarray(envs.benchmark("MT1/reach-v3").train_tasks["reach-v3"][:, 3:6], np.float32)
    w = wrap(env, episode_length=3)
    s = jax.jit(w.reset)(jax.random.split(jax.random.PRNGKey(0), 8))
    assert s.obs.shape == (8, 39) and s.obs.dtype == jnp.float32
    assert s.reward.dtype == jnp.float32 and s.done.dtype == jnp.float32 and s.reward.shape == (8,)
    assert set(s.metrics) == {"success"} and s.info["truncation"].shape == (8,)
    idx = np.asarray(s.info["task_index"])
    assert len(set(idx.tolist())) > 1
    np.testing.assert_allclose(np.asarray(s.obs[:, 36:39]), goals[idx], atol=1e-6)
    step = jax.jit(w.step)
    first = np.asarray(s.obs)
    for t in range(1, 4):
        s = step(s, jnp.full((8, 4), 0.5))
        assert np.isfinite(np.asarray(s.reward)).all()
    # brax's EpisodeWrapper truncated after 3 steps, its AutoResetWrapper restored the first state
    np.testing.assert_array_equal(np.asarray(s.done), np.ones(8))
    np.testing.assert_array_equal(np.asarray(s.info["truncation"]), np.ones(8))
    np.testing.assert_array_equal(np.asarray(s.obs), first)
    one = jax.tree.map(lambda x: x[0], s)
    with pytest.raises(ValueError, match=r"action must have shape \(4,\), got \(3,\)"):
        jax.eval_shape(env.step, one, jnp.zeros(3))  # raised while tracing, before any compile


@pytest.mark.slow
def test_brax_ppo_learns_reach(reach_brax, monkeypatch):
    """brax's own PPO trains on reach-v3 through the adapter; the eval return improves.

    brax 0.14.2 (the newest) still calls `jax.device_put_replicated`, which JAX 0.10 no longer exports (it
    raises AttributeError); the test puts JAX's own implementation, still in `jax._src.api`, back for its run."""
    from jax._src import api as jax_api

    from brax.training.agents.ppo import train as ppo

    monkeypatch.setattr(jax, "device_put_replicated", jax_api.device_put_replicated, raising=False)

    evals = []
    ppo.train(
        environment=reach_brax,
        num_timesteps=300_000,
        num_evals=4,
        episode_length=100,
        num_envs=64,
        batch_size=64,
        num_minibatches=4,
        unroll_length=10,
        num_updates_per_batch=4,
        learning_rate=1e-3,
        entropy_cost=1e-3,
        discounting=0.97,
        reward_scaling=0.1,
        normalize_observations=True,
        num_eval_envs=64,
        seed=0,
        progress_fn=lambda step, m: evals.append((step, float(m["eval/episode_reward"]))),
    )
    print("eval (env steps, return over 100 steps):", evals)
    assert len(evals) == 4
    first, last = evals[0][1], evals[-1][1]
    assert last > first + 100, evals
