"""jaxmeta.nstep: hand-computed n-step transitions (with an episode end inside the window), jit equality,
and the replay loop storing exactly the n-step returns of its one-step stream."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta.config import TrainConfig
from jaxmeta.networks import NetworkConfig
from jaxmeta.nstep import init_window, push
from jaxmeta.sac import Transition
from jaxmeta.train import make_train


def _step(t: int, N: int = 2) -> Transition:
    """Step t of N envs: obs = next_obs - 1 = 10 t + env, reward = t + 1 (+ 10 for env 1), action = t."""
    env = jnp.arange(N, dtype=jnp.float32)
    return Transition(
        obs=(10.0 * t + env)[:, None],
        action=jnp.full((N, 1), float(t)),
        reward=t + 1.0 + 10.0 * env,
        next_obs=(10.0 * t + env + 1.0)[:, None],
        discount=jnp.ones((N,)),
        skill_id=jnp.arange(N, dtype=jnp.int32),
    )


@pytest.mark.parametrize("jit", [False, True])
def test_three_step_returns_by_hand(jit):
    """n = 3, gamma = 0.5, two envs; env 1's episode ends at step 2 (truncation)."""
    fn = jax.jit(push, static_argnums=3) if jit else push
    w = init_window(3, 2, 1, 1)
    done = {0: [False, False], 1: [False, False], 2: [False, True], 3: [False, False], 4: [False, False]}
    outs = []
    for t in range(5):
        w, out, valid = fn(w, _step(t), jnp.array(done[t]), 0.5)
        outs.append((jax.device_get(out), bool(valid)))
    assert [v for _, v in outs] == [False, False, True, True, True]
    # start 0 (stored at t = 2): env 0: 1 + 0.5 * 2 + 0.25 * 3; env 1: 11 + 0.5 * 12 + 0.25 * 13 (ends at 2)
    o = outs[2][0]
    np.testing.assert_allclose(o.reward, [2.75, 20.25])
    np.testing.assert_allclose(o.obs[:, 0], [0.0, 1.0])
    np.testing.assert_allclose(o.next_obs[:, 0], [21.0, 22.0])
    np.testing.assert_allclose(o.discount, [0.25, 0.25])
    # start 1 (t = 3): env 1's episode ends at step 2: a 2-step return 12 + 0.5 * 13, bootstrap from step 2
    o = outs[3][0]
    np.testing.assert_allclose(o.reward, [2 + 1.5 + 1.0, 12 + 6.5])
    np.testing.assert_allclose(o.next_obs[:, 0], [31.0, 22.0])
    np.testing.assert_allclose(o.discount, [0.25, 0.5])
    # start 2 (t = 4): env 1 = the last step of its episode alone: r = 13, discount gamma^0
    o = outs[4][0]
    np.testing.assert_allclose(o.reward, [3 + 2.0 + 1.25, 13.0])
    np.testing.assert_allclose(o.next_obs[:, 0], [41.0, 22.0])
    np.testing.assert_allclose(o.discount, [0.25, 1.0])
    np.testing.assert_array_equal(o.action[:, 0], [2.0, 2.0])
    np.testing.assert_array_equal(o.skill_id, [0, 1])


def test_a_terminal_inside_the_window_zeroes_the_bootstrap():
    w = init_window(2, 1, 1, 1)
    first = _step(0, 1).replace(discount=jnp.zeros((1,)))  # step 0 reaches a terminal state
    w, _, _ = push(w, first, jnp.array([True]), 0.9)
    _, out, valid = push(w, _step(1, 1), jnp.array([False]), 0.9)
    assert bool(valid)
    np.testing.assert_allclose(out.reward, [1.0])  # step 1 belongs to the next episode
    np.testing.assert_allclose(out.discount, [0.0])


def test_bad_window_length():
    with pytest.raises(ValueError, match="n >= 2, got 1"):
        init_window(1, 2, 3, 4)


TOY = dict(
    benchmark="toy/2",
    envs_per_skill=2,
    max_path_length=5,
    total_steps=80,
    warmup_steps=80,  # random actions only: the env stream does not depend on n
    chunk_steps=80,
    batch_size=8,
    buffer_capacity=256,
    network=NetworkConfig(hidden=(8,)),
    eval_episodes=1,
)


def test_the_replay_loop_stores_the_n_step_returns_of_its_stream():
    """Same seed, warm-up only: the n = 3 run's replay holds, for every start step, the 3-step return of
    the n = 1 run's transitions, cut at the 5-step episodes' ends."""
    n, gamma = 3, 0.99
    bufs = {}
    for k in (1, n):
        cfg = TrainConfig(**TOY, n_step=k)
        tr = make_train(cfg)
        ts, _ = jax.jit(tr.chunk)(tr.init(tr.seed_key(0)))
        bufs[k] = jax.device_get(ts.replay)
        assert (ts.loop_state is None) == (k == 1)
    N, T = 4, 20  # envs, batched steps in the chunk
    one = jax.tree.map(lambda x: x[: N * T].reshape((T, N) + x.shape[1:]), bufs[1].items)
    many = jax.tree.map(lambda x: x[: N * (T - n + 1)].reshape((T - n + 1, N) + x.shape[1:]), bufs[n].items)
    assert int(bufs[n].size) == N * (T - n + 1)
    for b in range(T - n + 1):
        k = min(n, 5 - b % 5)  # steps left in the episode that step b belongs to
        want_r = sum(gamma**j * one.reward[b + j] for j in range(k))
        np.testing.assert_allclose(many.reward[b], want_r, rtol=1e-6)
        np.testing.assert_array_equal(many.obs[b], one.obs[b])
        np.testing.assert_array_equal(many.action[b], one.action[b])
        np.testing.assert_array_equal(many.next_obs[b], one.next_obs[b + k - 1])
        np.testing.assert_allclose(many.discount[b], gamma ** (k - 1), rtol=1e-6)


def test_n_step_is_validated():
    with pytest.raises(ValueError, match=r"n_step \(6\) must be <= max_path_length \(5\)"):
        TrainConfig(**TOY, n_step=6)
    with pytest.raises(ValueError, match="n_step must be an int >= 1, got 0"):
        TrainConfig(**TOY, n_step=0)


def test_a_resumed_n_step_run_equals_the_uninterrupted_one(tmp_path):
    """The window is part of the checkpointed state: stop after 3 chunks, resume, same rows and state."""
    from jaxmeta.checkpoint import latest_step
    from jaxmeta.train import train
    from tests.jaxmeta.run_helpers import metrics_rows, restore_full_state

    kw = dict(TOY, total_steps=400, warmup_steps=40, chunk_steps=80, eval_every=160, checkpoint_every=80, n_step=3)
    a, b = tmp_path / "a", tmp_path / "b"
    train(TrainConfig(**kw, out=str(a)), progress=False)
    train(TrainConfig(**kw, out=str(b)), progress=False, max_chunks=3)
    assert latest_step(b) == 240
    s = train(TrainConfig(**kw, out=str(b)), progress=False, resume=True)
    assert s["completed"] and s["resumed_from_chunk"] == 3
    assert metrics_rows(a) == metrics_rows(b)
    sa, _ = restore_full_state(a, TrainConfig(**kw, out=str(a)))
    sb, _ = restore_full_state(b, TrainConfig(**kw, out=str(b)))
    assert int(sa.loop_state.filled) == 2
    jax.tree.map(np.testing.assert_array_equal, sa, sb)
