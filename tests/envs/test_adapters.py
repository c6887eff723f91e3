"""envs.adapters: the gymnasium vector env (spaces, dtypes, SAME_STEP autoreset, gymnasium's vector wrappers,
a CleanRL-style SAC loop). The brax env: test_adapters_brax.py."""

from __future__ import annotations

import envs  # noqa: I001  (before jax: sets XLA_FLAGS)
from envs.adapters import MetaWorldVectorEnv, gym_vector_env

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

N = 4  # sub-envs
L = 10  # max_path_length: short episodes, so a few dozen steps cross several auto-resets


@pytest.fixture(scope="module")
def venv():
    env = gym_vector_env("MT1/reach-v3", N, seed=0, max_path_length=L)
    env.compile()
    return env


@pytest.fixture(scope="module")
def goals():
    """reach-v3's task set: the goal of task row k is goals[k] (obs[36:39])."""
    return np.asarray(envs.benchmark("MT1/reach-v3").train_tasks["reach-v3"][:, 3:6], np.float32)


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"envs_per_skill": 0}, "envs_per_skill must be an int >= 1, got 0"),
        ({"envs_per_skill": 2.5}, "envs_per_skill must be an int >= 1, got 2.5"),
        ({"envs_per_skill": True}, "envs_per_skill must be an int >= 1, got True"),
        ({"max_path_length": 0}, "max_path_length must be an int >= 1, got 0"),
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
        ({"benchmark": "MT11"}, "MT10"),
        ({"benchmark": 10}, "benchmark must be a name"),
        ({"split": "val"}, "split must be 'train' or 'test', got 'val'"),
        ({"skills": ["push-v3"]}, r"skills \['push-v3'\] are not in MT1/reach-v3"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    kwargs = {"benchmark": "MT1/reach-v3", "envs_per_skill": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        gym_vector_env(**kwargs)


def test_bad_actions_and_options_are_clear_errors(venv):
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(4, 4\), got \(4,\)"):
        venv.step(np.zeros(4))
    with pytest.raises(ValueError, match=r"actions must have shape \(4, 4\), got \(3, 4\)"):
        venv.step(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="actions must be numeric"):
        venv.step(np.full((4, 4), "a"))
    with pytest.raises(ValueError, match="reset options are not supported"):
        venv.reset(options={"reset_mask": np.ones(N, bool)})
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -3"):
        venv.reset(seed=-3)


# ------------------------------------------------------------------------------------------ spaces
def test_spaces_and_metadata(venv):
    assert isinstance(venv, gym.vector.VectorEnv) and isinstance(venv, MetaWorldVectorEnv)
    assert venv.num_envs == N
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    so, sa = venv.single_observation_space, venv.single_action_space
    assert isinstance(so, gym.spaces.Box) and so.shape == (39,) and so.dtype == np.float32
    assert isinstance(sa, gym.spaces.Box) and sa.shape == (4,) and sa.dtype == np.float32
    assert np.all(sa.low == -1) and np.all(sa.high == 1)
    assert venv.observation_space == gym.vector.utils.batch_space(so, N)
    assert venv.action_space == gym.vector.utils.batch_space(sa, N)
    assert venv.observation_space.shape == (N, 39) and venv.action_space.shape == (N, 4)


def test_reset_contract_and_seeding(venv, goals):
    obs, info = venv.reset(seed=3)
    assert isinstance(obs, np.ndarray) and obs.shape == (N, 39) and obs.dtype == np.float32
    assert venv.observation_space.contains(obs)
    for k, dtype in [
        ("success", np.bool_),
        ("episode_success", np.bool_),
        ("skill_id", np.int32),
        ("task_index", np.int32),
    ]:
        assert info[k].shape == (N,) and info[k].dtype == dtype, k
        assert info[f"_{k}"].all()
    assert not info["success"].any() and (info["skill_id"] == 0).all()
    np.testing.assert_allclose(obs[:, 36:39], goals[info["task_index"]], atol=1e-6)
    obs2, info2 = venv.reset(seed=3)
    np.testing.assert_array_equal(obs, obs2)
    np.testing.assert_array_equal(info["task_index"], info2["task_index"])
    draws = {tuple(venv.reset(seed=s)[1]["task_index"]) for s in range(4)}
    assert len(draws) > 1  # seeds draw different tasks
    obs.fill(7.0)  # returned arrays are the caller's
    assert not np.all(venv.reset(seed=3)[0] == 7.0)


# ------------------------------------------------------------------------------- random-action loop
def test_random_actions_same_step_autoreset(venv, goals):
    """3 * L + 5 random steps: every sub-env truncates after exactly L steps, and on that step `obs` is
    the new episode's first observation (goal of the newly drawn task), final_obs / next_obs the old one's."""
    venv.action_space.seed(0)
    obs, info = venv.reset(seed=1)
    task_index, reset_arm = info["task_index"], obs[:, :4]
    for t in range(1, 3 * L + 6):
        actions = venv.action_space.sample()
        assert actions.dtype == np.float32
        nobs, reward, term, trunc, info = venv.step(actions)
        assert nobs.shape == (N, 39) and nobs.dtype == np.float32 and venv.observation_space.contains(nobs)
        assert reward.shape == (N,) and reward.dtype == np.float64 and np.isfinite(reward).all()
        assert term.dtype == np.bool_ and trunc.dtype == np.bool_ and not term.any()
        assert info["success"].dtype == np.bool_ and (info["skill_id"] == 0).all()
        assert not info["physics_nan"].any() and not info["nonfinite_action"].any()
        assert info["next_obs"].shape == (N, 39)
        # goals of the previous tasks are seen in next_obs, of the current ones in obs
        np.testing.assert_allclose(info["next_obs"][:, 36:39], goals[task_index], atol=1e-6)
        np.testing.assert_allclose(nobs[:, 36:39], goals[info["task_index"]], atol=1e-6)
        if t % L == 0:
            assert trunc.all()
            assert info["_final_obs"].all() and info["_final_info"].all()
            for i in range(N):
                np.testing.assert_array_equal(info["final_obs"][i], info["next_obs"][i])
            assert set(info["final_info"]) >= {"success", "episode_success", "skill_id", "_success"}
            # the new episode starts from the reset pose (reach: the same hand and gripper for every task)
            np.testing.assert_allclose(nobs[:, :4], reset_arm, atol=1e-6)
            assert not np.allclose(nobs[:, :3], info["next_obs"][:, :3])
        else:
            assert not trunc.any() and "final_obs" not in info
            np.testing.assert_array_equal(nobs, info["next_obs"])
            np.testing.assert_array_equal(info["task_index"], task_index)
        task_index = info["task_index"]


def test_nonfinite_actions_are_counted_and_zeroed(venv):
    venv.reset(seed=0)
    a = np.zeros((N, 4))  # float64 is accepted (cast to float32)
    a[1, 2] = np.nan
    a[3] = np.inf
    obs, _, _, _, info = venv.step(a)
    np.testing.assert_array_equal(info["nonfinite_action"], [0, 1, 0, 4])
    assert np.isfinite(obs).all()


def test_gymnasium_vector_wrappers(venv):
    """gymnasium's own vector wrappers read the adapter: episode statistics honour SAME_STEP autoreset,
    and the dict info converts to per-env dicts."""
    from gymnasium.wrappers.vector import DictInfoToList, RecordEpisodeStatistics

    env = RecordEpisodeStatistics(venv)
    env.reset(seed=0)
    returns = np.zeros(N)
    for t in range(1, 2 * L + 1):
        _, r, _, trunc, info = env.step(env.action_space.sample())
        returns += r
        if t % L == 0:
            assert trunc.all()
            np.testing.assert_array_equal(info["episode"]["l"], np.full(N, L))
            np.testing.assert_allclose(info["episode"]["r"], returns, rtol=1e-5)
            returns[:] = 0
    assert env.episode_count == 2 * N

    lenv = DictInfoToList(venv)
    _, infos = lenv.reset(seed=0)
    assert isinstance(infos, list) and len(infos) == N and set(infos[0]) >= {"success", "skill_id"}
    _, _, _, _, infos = lenv.step(lenv.action_space.sample())
    assert infos[2]["skill_id"] == 0 and infos[2]["next_obs"].shape == (39,)


# ------------------------------------------------------------------------------ CleanRL-style SAC
def test_cleanrl_style_sac_loop_runs(venv):
    """A tiny CleanRL-style SAC (numpy replay, `final_obs` handling of truncations, jitted updates) runs
    end to end on the adapter: a few hundred vector steps, finite losses. Not a learning check."""
    import flax.linen as nn
    import optax

    class Q(nn.Module):
        @nn.compact
        def __call__(self, o, a):
            x = jnp.concatenate([o, a], -1)
            x = nn.relu(nn.Dense(64)(x))
            return nn.Dense(1)(nn.relu(nn.Dense(64)(x)))[..., 0]

    class Actor(nn.Module):
        @nn.compact
        def __call__(self, o):
            x = nn.relu(nn.Dense(64)(nn.relu(nn.Dense(64)(o))))
            return nn.Dense(4)(x), jnp.clip(nn.Dense(4)(x), -5, 2)

    def sample(params, o, key):
        mean, log_std = actor.apply(params, o)
        u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
        a = jnp.tanh(u)
        logp = jnp.sum(
            -0.5 * ((u - mean) / jnp.exp(log_std)) ** 2
            - log_std
            - 0.5 * jnp.log(2 * jnp.pi)
            - jnp.log(1 - a**2 + 1e-6),
            -1,
        )
        return a, logp

    actor, q = Actor(), Q()
    key = jax.random.PRNGKey(0)
    k1, k2, k3, key = jax.random.split(key, 4)
    o0, a0 = jnp.zeros((1, 39)), jnp.zeros((1, 4))
    params = {"actor": actor.init(k1, o0), "q1": q.init(k2, o0, a0), "q2": q.init(k3, o0, a0)}
    target = {"q1": params["q1"], "q2": params["q2"]}
    opt = optax.adam(3e-4)
    opt_state = opt.init(params)
    gamma, alpha, tau = 0.99, 0.1, 0.005

    @jax.jit
    def update(params, target, opt_state, batch, key):
        o, a, r, o2 = batch
        k1, k2 = jax.random.split(key)
        a2, logp2 = sample(params["actor"], o2, k1)
        q_next = jnp.minimum(q.apply(target["q1"], o2, a2), q.apply(target["q2"], o2, a2)) - alpha * logp2
        y = jax.lax.stop_gradient(r + gamma * q_next)  # Meta-World: no terminations, bootstrap always

        def loss(p):
            q_loss = jnp.mean((q.apply(p["q1"], o, a) - y) ** 2) + jnp.mean((q.apply(p["q2"], o, a) - y) ** 2)
            pa, logp = sample(p["actor"], o, k2)
            sg = jax.lax.stop_gradient  # the actor's loss reaches the critics' parameters not at all
            q_pi = jnp.minimum(q.apply(sg(p["q1"]), o, pa), q.apply(sg(p["q2"]), o, pa))
            return q_loss + jnp.mean(alpha * logp - q_pi), q_loss

        (_, q_loss), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = opt.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
        target = jax.tree.map(lambda t, p: (1 - tau) * t + tau * p, target, {"q1": params["q1"], "q2": params["q2"]})
        return params, target, opt_state, q_loss

    act = jax.jit(lambda p, o, k: sample(p, o, k)[0])
    steps, learning_starts, batch_size, cap = 200, 50, 64, 10_000
    buf = {
        "o": np.zeros((cap, 39), np.float32),
        "a": np.zeros((cap, 4), np.float32),
        "r": np.zeros(cap, np.float32),
        "o2": np.zeros((cap, 39), np.float32),
    }
    size, losses, truncations = 0, [], 0
    rng = np.random.default_rng(0)
    obs, _ = venv.reset(seed=0)
    for t in range(steps):
        if t < learning_starts:
            actions = venv.action_space.sample()
        else:
            key, k = jax.random.split(key)
            actions = np.asarray(act(params["actor"], obs, k))
        next_obs, rewards, terms, truncs, infos = venv.step(actions)
        real_next_obs = next_obs.copy()
        for idx, trunc in enumerate(truncs):
            if trunc:
                real_next_obs[idx] = infos["final_obs"][idx]
                truncations += 1
        rows = slice(size, size + N)
        buf["o"][rows], buf["a"][rows], buf["r"][rows], buf["o2"][rows] = obs, actions, rewards, real_next_obs
        size += N
        obs = next_obs
        if t >= learning_starts:
            idx = rng.integers(0, size, batch_size)
            key, k = jax.random.split(key)
            batch = tuple(jnp.asarray(buf[n][idx]) for n in ("o", "a", "r", "o2"))
            params, target, opt_state, q_loss = update(params, target, opt_state, batch, k)
            losses.append(float(q_loss))
    assert truncations == N * (steps // L)
    assert len(losses) == steps - learning_starts and np.isfinite(losses).all()
    # transitions at truncations carry the finished episode's last observation, not the reset one
    cut = np.arange(L - 1, steps - 1, L) * N  # rows of the first sub-env's truncation steps
    assert not np.allclose(buf["o2"][cut, :3], buf["o"][cut + N, :3])


@pytest.mark.slow
def test_two_skills_skill_ids_and_spaces():
    """Two MT10 skills: sub-envs skill-major, skill_id the skill's index, the observation space spanning both."""
    env = gym_vector_env("MT10", 2, seed=0, max_path_length=5, skills=["reach-v3", "push-v3"])
    assert env.num_envs == 4 and env.skills == ("reach-v3", "push-v3")
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["skill_id"], [0, 0, 1, 1])
    assert env.observation_space.contains(obs)
    goals = np.asarray(envs.benchmark("MT10").train_tasks["reach-v3"][:, 3:6], np.float32)
    np.testing.assert_allclose(obs[:2, 36:39], goals[info["task_index"][:2]], atol=1e-6)  # reach rows
    assert not np.allclose(obs[:2, 4:18], obs[2:, 4:18])  # push rows observe a puck
    for t in range(1, 11):
        obs, _, term, trunc, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and not term.any() and trunc.all() == (t % 5 == 0)
        np.testing.assert_array_equal(info["skill_id"], [0, 0, 1, 1])
