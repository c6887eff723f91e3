"""Compile time of the batched multi-task env (reset and step), shared vs per-skill physics, side by side.

Skills whose scenes compile to the same MJX model share one vmapped physics call in `envs.multitask`
(`share_physics=True`, the default). This script builds the benchmark's multi-task env both ways and
measures, with the persistent compilation cache OFF (every number is a cold compile):

* lower_s / compile_s of the jitted `step` and `reset` (XLA compile measured apart from tracing; the step
  first, lowered from the reset state's shapes, and each printed as soon as it is measured: MT50's reset
  compile alone takes many minutes on 2 cores),
* the process's peak resident memory after each compile (XLA's compile is the peak on CPU),
* steady-state env-steps/s of the jitted step (random actions, median of repeats),
* the shared / per-skill ratios, and shared / full-forward (every step ending in a full forward pass
  instead of kinematics only for skills whose reward reads no contacts).

    .venv/bin/python experiments/bench_mt_compile.py --bench MT10
    .venv/bin/python experiments/bench_mt_compile.py --bench MT50 --ported-only   # the ported part of MT50
    .venv/bin/python experiments/bench_mt_compile.py --skills window-open-v3 window-close-v3 --modes shared
    .venv/bin/python experiments/bench_mt_compile.py --bench MT10 --modes shared full-forward
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402  (XLA flags before jax)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from envs.multitask import make_multitask  # noqa: E402
from envs.skills import ported_skills  # noqa: E402


def measure(bench, skills, envs_per_skill: int, share: bool, steps: int, repeats: int, verbose: bool = False,
            full_forward: bool = False) -> dict:
    t = time.perf_counter()
    menv = make_multitask(bench, envs_per_skill, skills=skills, share_physics=share, full_forward=full_forward)
    build = time.perf_counter() - t
    groups = len(menv.physics_groups) if menv.physics_groups is not None else menv.num_skills
    key = jax.random.key(0)
    log = (lambda k, v: print(f"  {k}: {v:.1f} s (peak RSS so far {_peak_rss_gb():.1f} GB)", flush=True)) \
        if verbose else (lambda k, v: None)

    # The step first (its compile is the number that matters most; lowering needs only the state's shapes),
    # then the reset, each printed as soon as it is measured.
    state_shape = jax.eval_shape(menv.reset, key)
    actions = jax.random.uniform(jax.random.key(1), (menv.num_envs, 4), minval=-1.0, maxval=1.0)
    t = time.perf_counter()
    lowered = jax.jit(menv.step).lower(state_shape, actions)
    step_lower = time.perf_counter() - t
    log("step lower", step_lower)
    t = time.perf_counter()
    step = lowered.compile()
    step_compile = time.perf_counter() - t
    step_rss = _peak_rss_gb()
    log("step compile", step_compile)

    t = time.perf_counter()
    lowered = jax.jit(menv.reset).lower(key)
    reset_lower = time.perf_counter() - t
    log("reset lower", reset_lower)
    t = time.perf_counter()
    reset = lowered.compile()
    reset_compile = time.perf_counter() - t
    reset_rss = _peak_rss_gb()
    log("reset compile", reset_compile)
    state = jax.block_until_ready(reset(key))

    state = jax.block_until_ready(step(state, actions))  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            state = step(state, actions)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t)
    sps = menv.num_envs * steps / statistics.median(times)
    return dict(build=build, groups=groups, reset_lower=reset_lower, reset_compile=reset_compile,
                step_lower=step_lower, step_compile=step_compile, sps=sps, step_rss=step_rss, reset_rss=reset_rss)


def _peak_rss_gb() -> float:
    """This process's peak resident set size so far, GB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


#: mode -> (share_physics, full_forward)
MODES = {"shared": (True, False), "per-skill": (False, False), "full-forward": (True, True)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", default="MT10", help="benchmark name (MT10, MT50, ML10, ML45, MT1/<skill>, ...)")
    p.add_argument("--split", default="train", choices=["train", "test"])
    p.add_argument("--skills", nargs="*", default=None, help="a subset of the benchmark's skills")
    p.add_argument("--ported-only", action="store_true", help="drop the benchmark's skills not ported yet")
    p.add_argument("--envs-per-skill", type=int, default=8)
    p.add_argument("--modes", nargs="*", default=["shared", "per-skill"], choices=list(MODES),
                   help="shared: skills with one compiled model share a physics call; per-skill: none shared; "
                        "full-forward: shared, and every step ends with a full forward pass (not only the "
                        "skills whose reward reads contacts)")
    p.add_argument("--steps", type=int, default=20, help="env steps per timed repeat")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.envs_per_skill < 1:
        p.error(f"--envs-per-skill must be >= 1, got {args.envs_per_skill}")
    bench = envs.benchmark(args.bench)
    names = list(bench.train_skills if args.split == "train" else bench.test_skills)
    skills = args.skills or names
    bad = [s for s in skills if s not in names]
    if bad:
        p.error(f"not in {args.bench}'s {args.split} split: {bad}; valid: {names}")
    missing = [s for s in skills if s not in ported_skills()]
    if missing and not args.ported_only:
        p.error(f"not ported: {missing} (pass --ported-only to bench the ported ones)")
    skills = [s for s in skills if s in ported_skills()]
    if not skills:
        p.error("no ported skills to bench")
    # Cold compiles only: the persistent cache would turn the second build into a cache hit.
    jax.config.update("jax_enable_compilation_cache", False)
    print(f"device: {jax.devices()[0].platform}, cpu cores: {os.cpu_count()}, {args.bench} {args.split}: "
          f"{len(skills)} skills{' (ported part, ' + str(len(missing)) + ' not ported)' if missing else ''}, "
          f"{args.envs_per_skill} envs per skill; persistent compilation cache off")
    print(f"{'mode':10s} {'groups':>6s} {'build_s':>7s} {'reset_lower_s':>13s} {'reset_compile_s':>15s} "
          f"{'step_lower_s':>12s} {'step_compile_s':>14s} {'env_steps/s':>11s} {'peak_rss_gb':>11s}")
    rows = {}
    for mode in args.modes:
        share, full = MODES[mode]
        r = measure(bench, skills, args.envs_per_skill, share, args.steps, args.repeats, verbose=True, full_forward=full)
        rows[mode] = r
        print(f"{mode:10s} {r['groups']:6d} {r['build']:7.1f} {r['reset_lower']:13.1f} {r['reset_compile']:15.1f} "
              f"{r['step_lower']:12.1f} {r['step_compile']:14.1f} {r['sps']:11.0f} {r['reset_rss']:11.1f}", flush=True)
    for other in ("per-skill", "full-forward"):
        if "shared" in rows and other in rows:
            s, u = rows["shared"], rows[other]
            print(f"shared / {other}: reset compile {s['reset_compile'] / u['reset_compile']:.2f}x, "
                  f"step compile {s['step_compile'] / u['step_compile']:.2f}x, throughput {s['sps'] / u['sps']:.2f}x")


if __name__ == "__main__":
    main()
