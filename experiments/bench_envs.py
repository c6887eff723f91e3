"""Env throughput: the MJX port vs metaworld's CPU env, side by side in one run.

For each skill, batch size and device count: compile time of the jitted batched step (and reset),
steady-state env-steps/s of the MJX port (random actions, vmapped, the batch sharded over the devices:
by default every device, i.e. on a CPU one host device per core (`envs._runtime`); several timed repeats,
median), and metaworld's CPU env-steps/s in one process and in one process per core, plus the ratios.
A batch is split over the largest device count <= the one asked for that divides it.

    .venv/bin/python experiments/bench_envs.py                     # all ported MT10 skills
    .venv/bin/python experiments/bench_envs.py --skills reach-v3 --batch-sizes 1 64 --quick
    .venv/bin/python experiments/bench_envs.py --devices 1 2       # one device vs two, side by side

Known problem (open): on the 2-core CPU with JAX 0.10.2, this script hangs at batch 512 and 1024 inside
the first execution of the vmapped reset (every thread parked on a futex, no CPU use; reproducible for
reach-v3, also with ``--xla_cpu_multi_thread_eigen=false`` and a fresh compilation cache), while a
standalone script running the same reset at batch 1024 finishes in 0.1 s. Until that is understood the
default batch sizes stop at 256; run larger ones under ``timeout -s ABRT`` with ``python -X faulthandler``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402  (XLA flags before jax)
from envs._runtime import enable_compilation_cache  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from envs.benchmarks import MT10_SKILLS  # noqa: E402
from envs.skills import ported_skills  # noqa: E402


def _devices_for(batch: int, want: int) -> int:
    return max(d for d in range(1, min(batch, want) + 1) if batch % d == 0)


def bench_mjx(skill: str, batch: int, steps: int, repeats: int, devices: int = 1) -> dict:
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    env = envs.make(skill)
    tasks = envs.benchmark(f"MT1/{skill}").train_tasks[skill]
    rv = jnp.asarray(np.resize(tasks, (batch, tasks.shape[1])), jnp.float32)
    D = _devices_for(batch, devices)
    mesh = Mesh(np.asarray(jax.devices()[:D]), ("data",))
    split, rep = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    reset = jax.jit(lambda r: jax.vmap(env.reset, in_axes=(None, 0))(None, r), in_shardings=split, out_shardings=split)
    t = time.perf_counter()
    state = jax.block_until_ready(reset(jax.device_put(rv, split)))
    reset_compile = time.perf_counter() - t

    def rollout(state, key):
        def body(s, k):
            a = jax.random.uniform(k, (batch, 4), minval=-1.0, maxval=1.0)
            return jax.vmap(env.step)(s, a), None

        state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
        return state

    run = jax.jit(rollout, in_shardings=(split, rep), out_shardings=split, donate_argnums=0)
    key = jax.random.key(0)
    t = time.perf_counter()
    lowered = run.lower(state, key)
    compiled = lowered.compile()
    step_compile = time.perf_counter() - t
    state = jax.block_until_ready(compiled(state, key))  # warm-up
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        state = jax.block_until_ready(compiled(state, jax.random.fold_in(key, r)))
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return dict(reset_compile=reset_compile, step_compile=step_compile, sps=batch * steps / med, devices=D)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skills", nargs="*", default=None, help="default: ported MT10 skills")
    p.add_argument(
        "--batch-sizes",
        nargs="*",
        type=int,
        default=[1, 64, 256],
        help="(512 and 1024 hang on the 2-core CPU; see the module docstring)",
    )
    p.add_argument("--steps", type=int, default=50, help="env steps per timed scan")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--mw-steps", type=int, default=2000, help="metaworld steps per process")
    p.add_argument(
        "--devices",
        nargs="*",
        type=int,
        default=None,
        help="device counts to shard each batch over (default: all devices)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.mw_steps = 10, 2, 300
    skills = args.skills or [s for s in MT10_SKILLS if s in ported_skills()]
    bad = [s for s in skills if s not in ported_skills()]
    if bad:
        p.error(f"not ported: {bad}; ported skills: {list(ported_skills())}")
    if any(b < 1 for b in args.batch_sizes):
        p.error(f"batch sizes must be >= 1, got {args.batch_sizes}")
    device_counts = args.devices or [len(jax.devices())]
    if any(d < 1 or d > len(jax.devices()) for d in device_counts):
        p.error(f"--devices must be in [1, {len(jax.devices())}], got {device_counts}")
    enable_compilation_cache()
    from envs.reference import metaworld_throughput

    cores = os.cpu_count() or 1
    print(
        f"device: {jax.devices()[0].platform} x{len(jax.devices())}, cpu cores: {cores}, XLA_FLAGS={os.environ.get('XLA_FLAGS')}"
    )
    header = (
        f"{'skill':26s} {'batch':>6s} {'devices':>7s} {'compile_s':>9s} {'mjx_sps':>9s} {'mw_1proc':>9s} "
        f"{'mw_{}proc'.format(cores):>9s} {'x_vs_1':>7s} {'x_vs_all':>8s}"
    )
    print(header)
    rows = []
    for skill in skills:
        mw1 = metaworld_throughput(skill, args.mw_steps, n_procs=1)
        mwn = metaworld_throughput(skill, args.mw_steps, n_procs=cores) if cores > 1 else mw1
        for b in args.batch_sizes:
            for d in dict.fromkeys(_devices_for(b, want) for want in device_counts):
                r = bench_mjx(skill, b, args.steps, args.repeats, d)
                rows.append((skill, b, d, r["sps"], mw1, mwn))
                print(
                    f"{skill:26s} {b:6d} {r['devices']:7d} {r['step_compile']:9.1f} {r['sps']:9.0f} {mw1:9.0f} "
                    f"{mwn:9.0f} {r['sps'] / mw1:7.2f} {r['sps'] / mwn:8.2f}",
                    flush=True,
                )
    print("\nmean over skills of mjx_sps / mw_{}proc (x_vs_all), per batch and device count:".format(cores))
    for b in args.batch_sizes:
        for d in sorted({r[2] for r in rows if r[1] == b}):
            sel = [r for r in rows if r[1] == b and r[2] == d]
            print(
                f"  batch {b:5d}, {d} device(s): {statistics.mean(r[3] / r[5] for r in sel):.2f}x "
                f"(vs one metaworld process: {statistics.mean(r[3] / r[4] for r in sel):.2f}x)"
            )


if __name__ == "__main__":
    main()
