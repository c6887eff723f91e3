"""Accelerator check: multi-task env throughput and one training chunk, MT10 and MT50, in one short run.

Printed as one table (and `--json`):
* env: `make_multitask(bench, n)` stepped by a jitted `lax.scan` of `--steps` steps with random actions, at
  each `--envs-per-skill` n: compile seconds (lower + compile) and env-steps/s (median of `--repeats`);
* train: `experiments/bench_train.py`'s loop measurement (act -> env step -> replay add -> updates) at
  `--train-envs-per-skill`: chunk compile seconds and env-steps/s;
* peak device memory after each row (`memory_stats()["peak_bytes_in_use"]` on GPU/TPU; peak RSS on CPU).

Sized to finish in about 8 minutes on one H200 (the default sizes); on this project's CPU use `--quick`:

    bash experiments/gpu_check.sh                        # on the accelerator machine
    .venv/bin/python experiments/gpu_check.py --quick    # CPU smoke run: MT10 only, tiny sizes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402  (XLA flags before jax)

import jax  # noqa: E402

from envs.multitask import make_multitask  # noqa: E402


def peak_memory_gb() -> float:
    stats = jax.devices()[0].memory_stats() if jax.default_backend() != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB -> GB (Linux)


def env_row(bench_name: str, n: int, steps: int, repeats: int) -> dict:
    menv = make_multitask(envs.benchmark(bench_name), n)

    def rollout(state, key):
        def body(s, k):
            a = jax.random.uniform(k, (menv.num_envs, 4), minval=-1.0, maxval=1.0)
            return menv.step(s, a), None

        return jax.lax.scan(body, state, jax.random.split(key, steps))[0]

    state = jax.jit(menv.reset)(jax.random.key(0))
    t0 = time.perf_counter()
    run = jax.jit(rollout).lower(state, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t0
    state = jax.block_until_ready(run(state, jax.random.key(2)))
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        state = jax.block_until_ready(run(state, jax.random.key(3 + r)))
        times.append(time.perf_counter() - t)
    return {
        "kind": "env",
        "bench": bench_name,
        "envs_per_skill": n,
        "envs": menv.num_envs,
        "graphs": menv.num_physics_groups,
        "compile_s": compile_s,
        "env_steps_per_s": menv.num_envs * steps / statistics.median(times),
        "peak_gb": peak_memory_gb(),
    }


def train_row(bench_name: str, n: int, chunk_steps: int, quick: bool) -> dict:
    """bench_train.py's loop measurement in a subprocess (its own peak memory)."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "train.json")
        cmd = [
            sys.executable,
            os.path.join(here, "bench_train.py"),
            "--benchmark",
            bench_name,
            "--envs-per-skill",
            str(n),
            "--chunk-steps",
            str(chunk_steps),
            "--skip",
            "updates",
            "env",
            "--repeats",
            "2",
            "--json",
            out,
        ] + (["--quick"] if quick else [])
        subprocess.run(cmd, check=True)
        with open(out) as fh:
            res = json.load(fh)
    return {
        "kind": "train",
        "bench": bench_name,
        "envs_per_skill": n,
        "compile_s": res["loop"]["compile_s"],
        "env_steps_per_s": res["loop"]["env_steps_per_s"],
        "updates_per_s": res["loop"]["updates_per_s"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--benches", nargs="*", default=["MT10", "MT50"])
    p.add_argument("--envs-per-skill", nargs="*", type=int, default=[256, 1024, 4096])
    p.add_argument("--steps", type=int, default=50, help="env steps per timed scan")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-envs-per-skill", type=int, default=256)
    p.add_argument(
        "--chunk-steps", type=int, default=None, help="env steps per training chunk (default 16 batched steps)"
    )
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--quick", action="store_true", help="CPU smoke run: MT10, 2 and 4 envs per skill, tiny chunk")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.benches, args.envs_per_skill, args.steps, args.train_envs_per_skill = ["MT10"], [2, 4], 5, 2
    bad = [n for n in args.envs_per_skill + [args.train_envs_per_skill] if n < 1]
    if bad or args.steps < 1 or args.repeats < 1:
        p.error(f"sizes, --steps and --repeats must be >= 1, got {bad or (args.steps, args.repeats)}")
    for b in args.benches:
        envs.benchmark(b)  # a bad name fails here, before any compile
    print(
        f"backend {jax.default_backend()}, {jax.device_count()} device(s): {jax.devices()[0].device_kind}", flush=True
    )
    rows = []
    print(
        f"{'kind':5s} {'bench':5s} {'envs/skill':>10s} {'envs':>7s} {'graphs':>6s} {'compile s':>9s} "
        f"{'env-steps/s':>12s} {'peak GB':>8s}",
        flush=True,
    )
    for b in args.benches:
        for n in args.envs_per_skill:
            r = env_row(b, n, args.steps, args.repeats)
            rows.append(r)
            print(
                f"env   {b:5s} {n:10d} {r['envs']:7d} {r['graphs']:6d} {r['compile_s']:9.1f} "
                f"{r['env_steps_per_s']:12.0f} {r['peak_gb']:8.2f}",
                flush=True,
            )
        if not args.skip_train:
            num_skills = len(envs.benchmark(b).train_skills)
            chunk = args.chunk_steps or 16 * num_skills * args.train_envs_per_skill
            r = train_row(b, args.train_envs_per_skill, chunk, args.quick)
            rows.append(r)
            print(
                f"train {b:5s} {args.train_envs_per_skill:10d} {num_skills * args.train_envs_per_skill:7d} "
                f"{'':6s} {r['compile_s']:9.1f} {r['env_steps_per_s']:12.0f} {'':8s}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
