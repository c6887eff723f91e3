"""Physics families side by side: each family's one padded physics graph vs its members' own graphs.

For every family of a benchmark (`envs.family.partition`), in one process: the family's jitted multi-task
step (`make_multitask(skills=family)`: one physics call, members' model values per instance) and each
member's own step (`share_physics=False`, its lean scene alone), at the same envs per skill. Printed per
family: constraint rows (family template vs costliest member), compile seconds (lower + XLA compile), and the
per-env step cost of the family graph over its costliest member's (ratio; the padding's price), then totals:
graphs, summed compile seconds, and env-steps/s of the whole benchmark stepped family by family vs skill by
skill. Random actions; median of `--repeats` timed steps after one warm-up.

    .venv/bin/python experiments/bench_families.py                       # MT10, 16 envs per skill
    .venv/bin/python experiments/bench_families.py --bench MT50 --only-families
    .venv/bin/python experiments/bench_families.py --bench MT50 --family-with assembly-v3 handle-press-v3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402  (XLA flags before jax)

import jax  # noqa: E402

from envs import family  # noqa: E402
from envs.multitask import make_multitask  # noqa: E402


def measure(menv, repeats: int) -> dict:
    """Compile seconds and median step seconds of the env's jitted step."""
    state = jax.jit(menv.reset)(jax.random.key(0))
    actions = jax.random.uniform(jax.random.key(1), (menv.num_envs, 4), minval=-1.0, maxval=1.0)
    t0 = time.perf_counter()
    lowered = jax.jit(menv.step).lower(state, actions)
    t1 = time.perf_counter()
    step = lowered.compile()
    t2 = time.perf_counter()
    state = jax.block_until_ready(step(state, actions))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state = jax.block_until_ready(step(state, actions))
        times.append(time.perf_counter() - t)
    return {
        "lower_s": t1 - t0,
        "compile_s": t2 - t1,
        "step_s": statistics.median(times),
        "graphs": menv.num_physics_groups,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", default="MT10")
    p.add_argument("--envs-per-skill", type=int, default=16)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--only-families", action="store_true", help="skip the members' own graphs")
    p.add_argument("--family-with", nargs="+", default=None, help="only the families holding one of these skills")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    args = p.parse_args(argv)
    if args.envs_per_skill < 1 or args.repeats < 1:
        p.error(f"--envs-per-skill and --repeats must be >= 1, got {args.envs_per_skill}, {args.repeats}")
    bench = envs.benchmark(args.bench)
    unknown = sorted(set(args.family_with or ()) - set(bench.train_skills))
    if unknown:
        p.error(f"--family-with names skills outside {args.bench}: {unknown}")
    n = args.envs_per_skill
    fams = family.partition(tuple(bench.train_skills))
    print(
        f"{args.bench}: {len(bench.train_skills)} skills in {len(fams)} families, {n} envs per skill, "
        f"{jax.device_count()} device(s), backend {jax.default_backend()}",
        flush=True,
    )
    if args.family_with:
        fams = tuple(f for f in fams if set(f) & set(args.family_with))
    skills = [s for f in fams for s in f]
    rows, total = [], {"family_compile_s": 0.0, "family_step_s": 0.0, "own_compile_s": 0.0, "own_step_s": 0.0}
    for f in fams:
        fam = measure(make_multitask(bench, n, skills=f), args.repeats)
        row = {
            "family": list(f),
            "rows": family.constraint_rows(f[0], f if len(f) > 1 else None),
            "member_rows": [family.constraint_rows(s) for s in f],
            **{f"family_{k}": v for k, v in fam.items()},
        }
        total["family_compile_s"] += fam["lower_s"] + fam["compile_s"]
        total["family_step_s"] += fam["step_s"]
        if not args.only_families:
            own = {s: measure(make_multitask(bench, n, skills=(s,), share_physics=False), args.repeats) for s in f}
            worst = max(own.values(), key=lambda r: r["step_s"])
            row["own"] = own
            # per-env cost: family step / (members x n) vs the costliest member's step / n
            row["cost_ratio"] = (fam["step_s"] / len(f)) / worst["step_s"]
            total["own_compile_s"] += sum(r["lower_s"] + r["compile_s"] for r in own.values())
            total["own_step_s"] += sum(r["step_s"] for r in own.values())
        rows.append(row)
        own_txt = (
            ""
            if args.only_families
            else (
                f"  own compile {sum(r['lower_s'] + r['compile_s'] for r in row['own'].values()):6.1f} s"
                f"  per-env cost vs costliest member {row['cost_ratio']:.2f}x"
            )
        )
        print(
            f"{len(f):2d} skills  rows {row['rows']:4d} (max member {max(row['member_rows']):4d})  "
            f"family compile {fam['lower_s'] + fam['compile_s']:6.1f} s{own_txt}  {', '.join(f)}",
            flush=True,
        )
    num = n * len(skills)
    print(
        f"total: {len(fams)} graphs, compile {total['family_compile_s']:.1f} s, "
        f"{num / total['family_step_s']:.0f} env-steps/s stepping family by family",
        flush=True,
    )
    if not args.only_families:
        print(
            f"own graphs: {len(skills)} graphs, compile {total['own_compile_s']:.1f} s, "
            f"{num / total['own_step_s']:.0f} env-steps/s skill by skill; compile ratio "
            f"{total['own_compile_s'] / total['family_compile_s']:.2f}x, throughput ratio "
            f"{total['own_step_s'] / total['family_step_s']:.2f}x",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"bench": args.bench, "envs_per_skill": n, "rows": rows, "total": total}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
