"""Training env-steps/s of one configuration on several device counts (and XLA compile options), side by side.

Each case runs in its own process: `make_train(cfg, num_devices=d)` + `compile_programs` (cold: no
persistent cache), a warm-up chunk, then the fastest of `--repeats` timed chunks. `--compiler-option
k=v` compiles the training chunk alone with that XLA option (e.g. ``xla_backend_optimization_level=0``),
for the compile-time / run-time trade-off.

    .venv/bin/python experiments/bench_devices.py --envs-per-skill 64 --batch-size 512 --updates-per-step 8
    .venv/bin/python experiments/bench_devices.py --benchmark MT10 --envs-per-skill 8 --batch-size 512 \\
        --updates-per-step 8
    .venv/bin/python experiments/bench_devices.py --devices 1 --compiler-option xla_backend_optimization_level=0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one(a) -> dict:
    sys.path.insert(0, ROOT)
    import jaxmeta  # noqa: F401  (XLA flags before JAX)
    import jax

    from jaxmeta.config import preset
    from jaxmeta.train import compile_programs, make_train

    n = a.envs_per_skill
    cfg = preset(
        "default",
        benchmark=a.benchmark,
        total_steps=10_000_000,
        warmup_steps=0,
        envs_per_skill=n,
        batch_size=a.batch_size,
        updates_per_step=a.updates_per_step,
        chunk_steps=a.chunk_steps,
    )
    tr = make_train(cfg, num_devices=a.devices[0])
    opts = dict(kv.split("=", 1) for kv in a.compiler_option)
    t = time.perf_counter()
    if opts:  # the training chunk alone, with the options
        ts = jax.jit(tr.init)(tr.seed_key(0))
        step = jax.jit(tr.chunk, donate_argnums=0).lower(jax.eval_shape(lambda: ts)).compile(compiler_options=opts)
        compile_s = time.perf_counter() - t
    else:
        p = compile_programs(tr)
        compile_s = time.perf_counter() - t
        ts, step = p.init_state(tr.seed_key(0)), p.chunk
    ts, m = step(ts)
    jax.block_until_ready(m)
    times = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        ts, m = step(ts)
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t)
    return {
        "devices": a.devices[0],
        "options": opts,
        "compile_s": compile_s,
        "env_steps_per_s": cfg.env_steps_per_chunk / min(times),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="MT1/reach-v3")
    p.add_argument("--envs-per-skill", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--updates-per-step", type=int, default=2)
    p.add_argument("--chunk-steps", type=int, default=None, help="default: 100 batched steps")
    p.add_argument("--devices", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--compiler-option", action="append", default=[], metavar="K=V")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.chunk_steps is None:
        a.chunk_steps = 100 * a.envs_per_skill * (10 if a.benchmark == "MT10" else 1)
    if a.child:
        print("RESULT" + json.dumps(one(a)), flush=True)
        return
    rows = []
    for d in a.devices:
        argv = [
            "--benchmark",
            a.benchmark,
            "--envs-per-skill",
            str(a.envs_per_skill),
            "--batch-size",
            str(a.batch_size),
            "--updates-per-step",
            str(a.updates_per_step),
            "--chunk-steps",
            str(a.chunk_steps),
            "--repeats",
            str(a.repeats),
            *(x for kv in a.compiler_option for x in ("--compiler-option", kv)),
        ]
        r = subprocess.run(
            [sys.executable, __file__, *argv, "--devices", str(d), "--child"], capture_output=True, text=True
        )
        if "RESULT" not in r.stdout:
            raise SystemExit(f"{d} device(s) failed:\n{r.stderr[-3000:]}")
        rows.append(json.loads(r.stdout.split("RESULT", 1)[1]))
        print(
            f"{d} device(s) {rows[-1]['options'] or ''}: compile {rows[-1]['compile_s']:.1f} s, "
            f"{rows[-1]['env_steps_per_s']:,.0f} env-steps/s",
            flush=True,
        )
    base = rows[0]["env_steps_per_s"]
    for r in rows[1:]:
        print(f"{r['devices']} / {rows[0]['devices']} device(s): {r['env_steps_per_s'] / base:.2f}x env-steps/s")


if __name__ == "__main__":
    main()
