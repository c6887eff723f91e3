"""How a run is laid out over devices: how many (`plan_devices`) and each train-state leaf's
`NamedSharding` over the 1-D ``("data",)`` mesh (`state_shardings`); `jaxmeta.train` module docstring has
the layout (single seed: the env batch axis sharded, parameters / optimizer states / replay replicated;
several seeds: the seed axis sharded)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

if TYPE_CHECKING:
    from jaxmeta.config import TrainConfig

__all__ = ["plan_devices", "state_shardings"]


def _largest_divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, max(1, min(n, cap)) + 1) if n % d == 0)


def plan_devices(config: "TrainConfig", num_devices: int | None = None) -> int:
    """Number of devices the run shards over: the largest divisor of the sharded axis (the seed axis
    with several seeds, else envs_per_skill -- so every skill's group splits evenly -- and the batch
    size) that is <= `num_devices`.

    num_devices None: every device of an accelerator backend, but 1 on a CPU backend: a CPU device's
    training program already keeps more than one core busy (XLA's intra-op threads), and sharding over the
    host devices (one per core, `envs._runtime`) ran slower (docs/startup.md). Pass num_devices to shard
    anyway.

    Several processes (`jaxmeta.distributed`): every device of every process, always; ValueError when the
    sharded axis does not divide over them (a process without a shard would have nothing to run)."""
    total = len(jax.devices())
    if jax.process_count() > 1:
        if num_devices is not None and num_devices != total:
            raise ValueError(
                f"a run over {jax.process_count()} processes shards over all their {total} devices, not {num_devices}"
            )
        axis, what = (
            (config.num_seeds, f"seeds ({config.num_seeds})")
            if config.num_seeds > 1
            else (
                math.gcd(config.envs_per_skill, config.batch_size),
                f"envs_per_skill ({config.envs_per_skill}) and batch_size ({config.batch_size})",
            )
        )
        if axis % total:
            raise ValueError(
                f"a run over {jax.process_count()} processes shards over all their {total} devices: "
                f"{what} must be multiples of {total}"
            )
        return total
    if num_devices is None:
        n = 1 if jax.default_backend() == "cpu" else total
    else:
        n = num_devices
    if config.num_seeds > 1:
        return _largest_divisor_at_most(config.num_seeds, n)
    return _largest_divisor_at_most(math.gcd(config.envs_per_skill, config.batch_size), n)


def state_shardings(ts_abstract: Any, mesh: Mesh, batched: bool) -> Any:
    """NamedShardings for a (possibly batched) TrainState: batched -> seed axis sharded everywhere;
    single -> per-env leaves of the env state and episode_return sharded on their leading axis,
    everything else (params, optimizer states, replay storage, keys, counters) replicated."""
    rep = NamedSharding(mesh, P())
    lead = NamedSharding(mesh, P("data"))
    if batched:
        return jax.tree.map(lambda _: lead, ts_abstract)
    env = ts_abstract.env
    env_sh = jax.tree.map(lambda _: lead, env)
    # the reset pool is constant and any instance may gather any task's row: replicated (its task axis, e.g.
    # 50 tasks, need not divide by the device count, which only divides envs_per_skill)
    env_sh = env_sh.replace(key=rep, reset_pool=jax.tree.map(lambda _: rep, env.reset_pool))
    sh = jax.tree.map(lambda _: rep, ts_abstract)
    return sh.replace(env=env_sh, episode_return=lead)
