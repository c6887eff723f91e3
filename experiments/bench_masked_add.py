"""Cost of the replay's per-item valid mask: `ReplayBuffer.add` with a () valid against an (N,) valid
(the trainer's drop of non-finite transitions), side by side: 200 adds per jitted scan into a 1M-item
uniform buffer, 5 scans timed after a warm-up one.

    python experiments/bench_masked_add.py [--envs 8,128,1024]
"""

from __future__ import annotations

import argparse
import time

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import jax
import jax.numpy as jnp

from jaxmeta.replay import make_replay
from jaxmeta.sac import Transition

ADDS, REPEATS = 200, 5


def us_per_add(n: int, per_item: bool) -> float:
    buf = make_replay(1_000_000, 10, "uniform")
    ex = Transition(
        obs=jnp.zeros(39),
        action=jnp.zeros(4),
        reward=jnp.zeros(()),
        next_obs=jnp.zeros(39),
        discount=jnp.ones(()),
        skill_id=jnp.zeros((), jnp.int32),
    )
    items = jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + x.shape), ex)

    def body(state, i):
        # per item: every other add drops item 0 (so the partition is not the identity)
        valid = jnp.ones((n,), bool).at[0].set(i % 2 == 0) if per_item else jnp.asarray(True)
        return buf.add(state, items.replace(reward=items.reward + i), valid), None

    scan = jax.jit(lambda s: jax.lax.scan(body, s, jnp.arange(ADDS, dtype=jnp.float32))[0], donate_argnums=0)
    state = jax.block_until_ready(scan(buf.init(ex)))
    t = time.perf_counter()
    for _ in range(REPEATS):
        state = scan(state)
    jax.block_until_ready(state)
    return (time.perf_counter() - t) / (ADDS * REPEATS) * 1e6


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", default="8,128,1024", help="comma-separated numbers of items per add")
    args = p.parse_args(argv)
    print("envs  scalar valid (us/add)  per-item valid (us/add)  ratio")
    for n in (int(x) for x in args.envs.split(",")):
        a, b = us_per_add(n, False), us_per_add(n, True)
        print(f"{n:>4}  {a:>21.1f}  {b:>23.1f}  {b / a:>5.2f}")


if __name__ == "__main__":
    main()
