"""Memory mappings of one loaded XLA:CPU executable, and whether releasing it gives them back (Linux).

XLA:CPU maps each compiled object's code and data separately, and `vm.max_map_count` (65,530 by default)
caps a process's mappings: the reason `jaxmeta.programs` releases every reset-pool executable once it has
run (docs/families.md). Compiles MT1/<skill>'s reset-pool executable (4 envs), runs it, drops it (first the
executable alone, then the `Lowered` it was compiled from, which keeps a reference to it, then the
function it was lowered from: JAX's caches keyed on the function keep its lowering, hence the executable),
and prints the process's `/proc/self/maps` line count at each point.

    .venv/bin/python experiments/bench_maps.py                 # reach-v3, ~1 min on the 2-core CPU
    .venv/bin/python experiments/bench_maps.py --skill door-open-v3
"""

from __future__ import annotations

import argparse
import gc

import envs
import jax
from envs.multitask import make_multitask


def maps() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skill", default="reach-v3")
    a = p.parse_args()
    env = make_multitask(envs.benchmark(f"MT1/{a.skill}"), 4)
    part = lambda: env.group_reset_pool(0, env.group_tasks(0))  # noqa: E731
    before = maps()
    lowered = jax.jit(part).lower()
    exe = lowered.compile()
    jax.block_until_ready(exe())
    loaded = maps()
    del exe
    gc.collect()
    exe_dropped = maps()
    del lowered
    gc.collect()
    lowered_dropped = maps()
    del part
    gc.collect()
    after = maps()
    print(
        f"{a.skill} reset-pool executable, mappings: {before:,} before, {loaded:,} loaded (+{loaded - before:,}), "
        f"{exe_dropped:,} with the executable dropped but its Lowered kept (+{exe_dropped - before:,}), "
        f"{lowered_dropped:,} with both dropped but the function kept (+{lowered_dropped - before:,}), "
        f"{after:,} with the function dropped too (+{after - before:,})"
    )


if __name__ == "__main__":
    main()
