"""Benchmark PaCo: compositional-layer mix modes and SAC gradient updates/s vs plain MT-SAC.

1. One `CompositionalDense` layer (B x in -> out, K sets, T tasks), forward and forward+backward, for each
   mix mode ("outputs": K outputs then mix; "weights": per-skill mixed weights; "weights_per_sample":
   per-sample gathered weights).
2. Full jitted SAC updates (critic + actor + alpha + Polyak) at the same batch and network size:
   MT-SAC (`networks.make_networks`, one-hot conditioning) vs PaCo (`paco.make_paco_networks`) through
   the same `sac.make_sac(...).update`, plus `paco.make_paco_sac` (mask-out + w-reset + shared-w sync,
   exact and lagged masking). Compile time is reported separately from steady-state updates/s.

Usage: python experiments/bench_paco.py [--quick] [--csv PATH]
Defaults follow PaCo Tables VI/VII: batch 1280, hidden (400, 400, 400), K = 5, 10 tasks.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmeta  # noqa: E402,F401  (XLA flags before JAX)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxmeta import networks as N  # noqa: E402
from jaxmeta import paco as P  # noqa: E402
from jaxmeta import sac as S  # noqa: E402


def _time_calls(fn, args_fn, repeats: int, inner: int) -> float:
    """Median over ``repeats`` of the mean seconds per call over ``inner`` back-to-back calls."""
    out = fn(*args_fn(0))
    jax.block_until_ready(out)
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(inner):
            out = fn(*args_fn(r * inner + i))
        jax.block_until_ready(out)
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def bench_layer(b, din, dout, k, t, modes, repeats, inner):
    keys = jax.random.split(jax.random.key(0), 5)
    x = jax.random.normal(keys[0], (b, din))
    kernel = jax.random.normal(keys[1], (k, din, dout)) / jnp.sqrt(din)
    bias = jnp.zeros((k, dout))
    w = jax.random.normal(keys[2], (t, k))
    layouts = {"random": jax.random.randint(keys[3], (b,), 0, t), "balanced": _balanced_ids(b, t, 3)}
    rows = []
    variants = [(m, "random") for m in modes] + ([("structured", "balanced")] if "structured" in modes else [])
    for mode, layout in variants:
        tid = layouts[layout]
        fwd = jax.jit(lambda x, kern, bias, w, m=mode, tid=tid: P.compositional_matmul(x, kern, bias, w, tid, m))
        loss = lambda x, kern, bias, w, m=mode, tid=tid: jnp.sum(P.compositional_matmul(x, kern, bias, w, tid, m) ** 2)
        bwd = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))
        for kind, fn in (("fwd", fwd), ("fwd+bwd", bwd)):
            slow = mode == "weights_per_sample"  # ~25x slower: one timed call is enough
            sec = _time_calls(fn, lambda i: (x, kernel, bias, w), 1 if slow else repeats, 1 if slow else inner)
            name = f"{mode} ({layout} batch)"
            rows.append({"bench": "layer", "variant": name, "kind": kind, "ms": 1e3 * sec})
            print(f"  layer {name:32s} {kind:8s} {1e3 * sec:9.2f} ms", flush=True)
    return rows


def _balanced_ids(b, t, offset):
    """Skill ids as `replay` ``balanced`` sampling lays them out: task ``(i + offset) % t`` at row i."""
    return ((jnp.arange(b) + offset) % t).astype(jnp.int32)


def _batch(key, b, obs_dim, action_dim, num_skills, skill_id=None):
    k = jax.random.split(key, 5)
    if skill_id is None:
        skill_id = jax.random.randint(k[4], (b,), 0, num_skills).astype(jnp.int32)
    return S.Transition(
        obs=jax.random.normal(k[0], (b, obs_dim)),
        action=jax.random.uniform(k[1], (b, action_dim), minval=-1.0, maxval=1.0),
        reward=jax.random.uniform(k[2], (b,)),
        next_obs=jax.random.normal(k[3], (b, obs_dim)),
        discount=jnp.ones((b,)),
        skill_id=skill_id,
    )


def compile_update(name, init, update, batch, layout):
    """Build the state and AOT-compile ``update``; returns a runner dict with the compile time."""
    state = init(jax.random.key(0))
    t0 = time.perf_counter()
    compiled = jax.jit(update).lower(state, batch, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t0
    print(f"  compiled {name:34s} ({layout} batch) in {compile_s:7.2f} s", flush=True)
    return {
        "name": f"{name} ({layout} batch)",
        "compiled": compiled,
        "state": state,
        "compile_s": compile_s,
        "times": [],
        "batch": batch,
    }


def time_updates(runner, inner: int, seed: int) -> float:
    """Mean seconds per update over ``inner`` back-to-back updates (state carried)."""
    keys = jax.random.split(jax.random.key(seed), inner)
    state = runner["state"]
    t0 = time.perf_counter()
    for i in range(inner):
        state, metrics, _ = runner["compiled"](state, runner["batch"], keys[i])
    jax.block_until_ready(metrics["critic_loss"])
    sec = (time.perf_counter() - t0) / inner
    runner["state"] = state
    return sec


def bench_updates(runners, repeats: int, inner: int):
    """Warm up, then ``repeats`` interleaved rounds (every variant once per round, so a change in machine
    load hits all variants alike); report the median per variant."""
    for r in runners:
        time_updates(r, 1, seed=0)
    for rnd in range(repeats):
        for r in runners:
            r["times"].append(time_updates(r, inner, seed=rnd + 1))
    rows = []
    for r in runners:
        sec = statistics.median(r["times"])
        print(
            f"  update {r['name']:50s} compile {r['compile_s']:7.2f} s   {1e3 * sec:9.1f} ms/update   "
            f"{1.0 / sec:8.2f} updates/s   (rounds: {', '.join(f'{1e3 * t:.0f}' for t in r['times'])} ms)",
            flush=True,
        )
        rows.append(
            {
                "bench": "update",
                "variant": r["name"],
                "kind": "update",
                "ms": 1e3 * sec,
                "updates_per_s": 1.0 / sec,
                "compile_s": r["compile_s"],
            }
        )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--batch", type=int, default=1280)
    ap.add_argument("--hidden", type=int, default=400, help="width of each of --depth hidden layers")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--param-sets", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--inner", type=int, default=3)
    ap.add_argument(
        "--update-modes", default="structured,outputs,weights", help="PaCo mix modes for the sac.update bench"
    )
    ap.add_argument("--skip-per-sample", action="store_true", help="skip the (slow) weights_per_sample layer mode")
    ap.add_argument("--csv", default=None, help="write the rows to this CSV file")
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.hidden, args.depth, args.repeats, args.inner = 64, 32, 2, 2, 2

    b, h, k, t = args.batch, args.hidden, args.param_sets, args.tasks
    hidden = (h,) * args.depth
    print(
        f"bench_paco: device={jax.devices()[0].device_kind} ({jax.default_backend()}), cpus={os.cpu_count()}, "
        f"jax={jax.__version__}, python={platform.python_version()}; batch={b} hidden={hidden} K={k} T={t}",
        flush=True,
    )
    rows = []
    print("compositional layer (one layer, %dx%d):" % (h, h), flush=True)
    modes = [m for m in P.MIX_MODES if not (args.skip_per_sample and m == "weights_per_sample")]
    rows += bench_layer(b, h, h, k, t, modes, args.repeats, args.inner)

    print("SAC update (critic + actor + alpha + Polyak), jitted:", flush=True)
    obs_dim, action_dim = 39, 4
    batches = {
        "random": _batch(jax.random.key(3), b, obs_dim, action_dim, t),
        "balanced": _batch(jax.random.key(3), b, obs_dim, action_dim, t, _balanced_ids(b, t, 3)),
    }
    sac_cfg = S.SACConfig(num_skills=t)
    runners = []
    mt = S.make_sac(sac_cfg, N.make_networks(N.NetworkConfig(obs_dim, action_dim, t, hidden, "onehot")))
    runners.append(compile_update("mt-sac (onehot)", mt.init, mt.update, batches["random"], "random"))
    for mode in args.update_modes.split(","):
        cfg = P.PaCoConfig(obs_dim, action_dim, t, k, hidden, mix_mode=mode)
        algo = S.make_sac(sac_cfg, P.make_paco_networks(cfg))
        for layout in ("balanced", "random") if mode == "structured" else ("random",):
            runners.append(
                compile_update(f"paco K={k} sac.update [{mode}]", algo.init, algo.update, batches[layout], layout)
            )
    cfg = P.PaCoConfig(obs_dim, action_dim, t, k, hidden)
    for timing in ("exact", "lagged"):
        algo = P.make_paco_sac(sac_cfg, cfg, mask_timing=timing)
        runners.append(
            compile_update(
                f"paco K={k} make_paco_sac [{timing}]", algo.init, algo.update, batches["balanced"], "balanced"
            )
        )
    rows += bench_updates(runners, args.repeats, args.inner)

    base = next(r["updates_per_s"] for r in rows if r["variant"].startswith("mt-sac"))
    print("ratios (updates/s relative to mt-sac):", flush=True)
    for r in rows:
        if r["bench"] == "update":
            r["ratio_vs_mtsac"] = r["updates_per_s"] / base
            ratio = r["ratio_vs_mtsac"]
            print(f"  {r['variant']:50s} {ratio:.3f}  ({1 / ratio:.2f}x the time of an MT-SAC update)")
    if args.csv:
        os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
        fields = ["bench", "variant", "kind", "ms", "updates_per_s", "compile_s", "ratio_vs_mtsac"]
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv}")
    return rows


if __name__ == "__main__":
    main()
