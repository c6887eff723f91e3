"""n-step returns for the replay loop: a window of each env's last ``n - 1`` steps turns the stream of
one-step transitions into n-step ones (Sutton & Barto 2018, Eq. 7.1; Rainbow, Hessel et al. 2018;
FastTD3, Seo et al. 2025, for many parallel envs).

Shapes: ``N`` envs, ``O`` obs_dim, ``A`` action_dim, ``n >= 2`` the return length. A one-step
`jaxmeta.sac.Transition` of step ``t`` (``next_obs`` = the true next observation, the final one at a
time-limit truncation; ``discount`` 0 at a terminal, else 1) and ``done (N,)`` (the episode ended at ``t``,
truncated or terminated) go into `push`, which returns the n-step transition that *starts* at step
``t - n + 1``::

    k        = 1 + the number of steps t-n+1 .. t-1 before the episode's end (so 1 <= k <= n)
    reward   = sum_{j < k} gamma^j r_{t-n+1+j}
    next_obs = next_obs of step t-n+k          (the state the return bootstraps from)
    discount = gamma^(k-1) * discount of step t-n+k

so the SAC target ``r + gamma * discount * V(next_obs)`` is the k-step return ``sum_{j<k} gamma^j r +
gamma^k V``, and an episode end inside the window shortens the return instead of crossing it. The first
``n - 1`` pushes of a run return ``valid = False`` (no step ``t - n + 1`` yet). Pure and jit-able; vmap
over seeds works on a stacked window.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxmeta.sac import Transition, zero_transition

__all__ = ["NStepWindow", "init_window", "push"]


@struct.dataclass
class NStepWindow:
    """The last ``n - 1`` one-step transitions of every env (oldest first) and whether each ended its
    episode; ``filled`` () int32: how many of the ``n - 1`` slots hold steps (saturates at ``n - 1``)."""

    steps: Transition  # leaves (n-1, N, ...)
    done: jax.Array  # (n-1, N) bool
    filled: jax.Array


def init_window(n: int, num_envs: int, obs_dim: int, action_dim: int) -> NStepWindow:
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"an n-step window needs an int n >= 2, got {n!r}")
    m = n - 1
    steps = zero_transition(obs_dim, action_dim, (m, num_envs))
    return NStepWindow(steps=steps, done=jnp.zeros((m, num_envs), bool), filled=jnp.zeros((), jnp.int32))


def push(
    window: NStepWindow, step: Transition, done: jax.Array, gamma: float
) -> tuple[NStepWindow, Transition, jax.Array]:
    """Add one batched step; returns ``(window', n-step transition (N, ...), valid ())`` (module docstring)."""
    m = window.done.shape[0]
    N = done.shape[0]
    chex.assert_shape(step.reward, (N,))
    chex.assert_shape(window.steps.reward, (m, N))
    seq = jax.tree.map(lambda w, s: jnp.concatenate([w, s[None]], axis=0), window.steps, step)  # (n, N, ...)
    ended = jnp.concatenate([window.done, done[None]], axis=0)  # (n, N)
    # step j counts if no step before it (from the start) ended the episode
    before = jnp.cumsum(ended.astype(jnp.int32), axis=0) - ended.astype(jnp.int32)
    alive = (before == 0).astype(jnp.float32)  # (n, N); row 0 always 1
    powers = gamma ** jnp.arange(m + 1, dtype=jnp.float32)  # gamma^j
    reward = jnp.sum(alive * powers[:, None] * seq.reward, axis=0)
    k = jnp.sum(alive, axis=0).astype(jnp.int32)  # 1 .. n
    last = k - 1
    pick = lambda x: jnp.take_along_axis(x, last.reshape((1, N) + (1,) * (x.ndim - 2)), axis=0)[0]  # noqa: E731
    out = Transition(
        obs=seq.obs[0],
        action=seq.action[0],
        reward=reward,
        next_obs=pick(seq.next_obs),
        discount=powers[last] * pick(seq.discount),
        skill_id=seq.skill_id[0],
    )
    valid = window.filled >= m
    new = NStepWindow(
        steps=jax.tree.map(lambda x: x[1:], seq), done=ended[1:], filled=jnp.minimum(window.filled + 1, m)
    )
    return new, out, valid
