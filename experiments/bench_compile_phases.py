"""Where XLA:CPU spends the compile of the batched multi-task env step, as the number of physics families grows.

Each case is its own process with an empty persistent compilation cache: the first ``k`` families of
`envs.family.partition(<benchmark> train skills)` (largest first), `envs.multitask.make_multitask` at
``--envs-per-skill``, ``jax.jit(env.step)`` lowered, then compiled under `jax.profiler` so that XLA's own
trace events time its phases (HLO passes, thunk emission, LLVM codegen). Cases run one after another, and
a table at the end puts each phase next to the ``k = first case`` figure (ratio). Run it with nothing else
on the machine:

    .venv/bin/python experiments/bench_compile_phases.py --benchmark MT50 --families 1 2 4 \\
        --json docs/results/bench_compile_phases.json

Numbers are seconds of wall time per XLA trace event, summed over the event's occurrences. The profiler
itself adds some time to the compile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: XLA:CPU trace events reported (name -> column title).
PHASES = {
    "HLO passes through layout assignment (jit_step)": "hlo_before_layout",
    "HLO passes after layout assignment (jit_step)": "hlo_after_layout",
    "ThunkEmitter::EmitEntryComputation": "thunk_emitter",
    "SplitModule": "split_module",
    "Codegen": "codegen",
    "CpuCompiler::RunBackend": "backend",
}


def one(a) -> dict:
    """One case in this process: build, lower and compile; XLA phase times from a profiler trace."""
    import glob
    import time

    sys.path.insert(0, ROOT)
    import envs  # (XLA flags before JAX)
    import jax
    import jax.numpy as jnp
    from jax._src.lib import _profile_data

    from envs.family import partition
    from envs.multitask import make_multitask

    bench = envs.benchmark(a.benchmark)
    fams = sorted(partition(bench.train_skills), key=len, reverse=True)
    if a.families[0] > len(fams):
        raise SystemExit(f"--families {a.families[0]}: {a.benchmark} has only {len(fams)} families")
    skills = [s for f in fams[: a.families[0]] for s in f]
    t = time.perf_counter()
    env = make_multitask(bench, a.envs_per_skill, skills=skills)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    pool = jax.eval_shape(env.reset_pool)
    state = jax.eval_shape(env.start, jax.random.PRNGKey(0), pool)
    lowered = jax.jit(env.step).lower(state, jax.ShapeDtypeStruct((env.num_envs, env.action_size), jnp.float32))
    lower_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d)
        t = time.perf_counter()
        compiled = lowered.compile()
        compile_s = time.perf_counter() - t
        jax.profiler.stop_trace()
        (path,) = glob.glob(os.path.join(d, "**", "*.xplane.pb"), recursive=True)
        prof = _profile_data.ProfileData.from_file(path)
    phases = dict.fromkeys(PHASES.values(), None)
    for plane in prof.planes:
        for line in plane.lines:
            for ev in line.events:
                if ev.name in PHASES:
                    col = PHASES[ev.name]
                    phases[col] = (phases[col] or 0.0) + ev.duration_ns / 1e9
    hlo = compiled.as_text()
    return {
        "families": a.families[0],
        "skills": len(skills),
        "physics_groups": env.num_physics_groups,
        "build_s": build_s,
        "lower_s": lower_s,
        "compile_s": compile_s,
        # computations of the optimised module (fusions, loop bodies and conditions, reducers, ...)
        "hlo_computations": sum(1 for ln in hlo.splitlines() if ln.endswith("{") and not ln.startswith(" ")),
        "hlo_instructions": sum(1 for ln in hlo.splitlines() if " = " in ln),
        **phases,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="MT50")
    p.add_argument("--families", type=int, nargs="+", default=[1, 2, 4], help="numbers of families, one case each")
    p.add_argument("--envs-per-skill", type=int, default=4)
    p.add_argument("--json", default=None, help="also write the rows here")
    p.add_argument("--_one", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    bad = [k for k in a.families if k < 1]
    if bad or a.envs_per_skill < 1:
        p.error(f"--families and --envs-per-skill must be >= 1, got families {a.families}, envs {a.envs_per_skill}")
    if a._one:
        print(json.dumps(one(a)))
        return
    rows = []
    for k in a.families:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, JAXMETA_CACHE_DIR=cache)
            cmd = [sys.executable, os.path.abspath(__file__), "--_one", "--benchmark", a.benchmark]
            cmd += ["--families", str(k), "--envs-per-skill", str(a.envs_per_skill)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"case families={k} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    cols = ["lower_s", "compile_s", *PHASES.values()]
    print(f"\n{a.benchmark}, {a.envs_per_skill} envs per skill; seconds (ratio to the first case)")
    print("| families | skills | computations | " + " | ".join(cols) + " |")
    print("|---" * (3 + len(cols)) + "|")
    base = rows[0]
    for r in rows:
        cells = []
        for c in cols:
            v, b = r[c], base[c]
            cells.append("n/a" if v is None else f"{v:.1f} ({v / b:.1f}x)" if b else f"{v:.1f}")
        print(f"| {r['families']} | {r['skills']} | {r['hlo_computations']:,} | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"benchmark": a.benchmark, "envs_per_skill": a.envs_per_skill, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
