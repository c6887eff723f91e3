"""Compile time of the batched multi-task env (reset and step) in several builds, side by side.

Modes (each measured in a fresh subprocess, so its peak RSS is its own; the persistent compilation cache is
OFF, so every number is a cold compile, unless `--warm`: then each mode runs twice, in fresh processes
sharing a new, empty cache directory: a cold build that fills it, then a warm one that loads every
executable from it, as a second launch of the same benchmark does with `jaxmeta`'s cache):

* shared: one jitted reset and one jitted step (`MultiTaskEnv`); skills whose scenes compile to the same MJX
  model share one vmapped physics call (the default build);
* per-skill: the same without sharing (every skill's physics compiled separately);
* full-forward: shared, and every step ends with a full forward pass (not only for skills whose reward
  reads contacts);
* split: `envs.split.SplitMultiTaskEnv`: the shared build's reset and step as one executable per physics
  group plus one joining executable each (`--workers` compile concurrently). The only build whose MT50
  step compiles on a 24 GiB CPU machine.

Per mode: lower_s / compile_s of step and reset (split: summed over its executables, and the wall time of
the whole compile), the process's peak resident memory, steady-state env-steps/s of the step (random
actions, median of repeats), and the ratios to `shared`. `--per-group` (split mode) adds one row per physics
group: its step executable's compile time and env-steps/s alone, next to metaworld's CPU env-steps/s
(one process) of each member skill.

    .venv/bin/python experiments/bench_mt_compile.py --bench MT10                     # shared vs per-skill
    .venv/bin/python experiments/bench_mt_compile.py --bench MT10 --modes shared split
    .venv/bin/python experiments/bench_mt_compile.py --bench MT50 --modes split --workers 2 --per-group
    .venv/bin/python experiments/bench_mt_compile.py --bench MT10 --modes split --warm
    .venv/bin/python experiments/bench_mt_compile.py --skills window-open-v3 window-close-v3 --modes shared
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import resource
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402  (XLA flags before jax)

import jax  # noqa: E402

from envs.multitask import make_multitask  # noqa: E402
from envs.split import SplitMultiTaskEnv  # noqa: E402
from envs.skills import ported_skills  # noqa: E402


def _log(verbose):
    return (
        (lambda k, v: print(f"  {k}: {v:.1f} s (peak RSS so far {_peak_rss_gb():.1f} GB)", flush=True))
        if verbose
        else (lambda k, v: None)
    )


def _throughput(step, state, actions, num_envs: int, steps: int, repeats: int) -> float:
    """Median env-steps/s of `steps` calls of step(state, actions) (after one warm-up call)."""
    state = jax.block_until_ready(step(state, actions))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            state = step(state, actions)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t)
    return num_envs * steps / statistics.median(times)


def measure(
    bench,
    skills,
    envs_per_skill: int,
    share: bool,
    steps: int,
    repeats: int,
    verbose: bool = False,
    full_forward: bool = False,
    compiler_options=None,
) -> dict:
    """One jitted step and one jitted reset (MultiTaskEnv)."""
    t = time.perf_counter()
    menv = make_multitask(bench, envs_per_skill, skills=skills, share_physics=share, full_forward=full_forward)
    build = time.perf_counter() - t
    groups = len(menv.physics_groups) if menv.physics_groups is not None else menv.num_skills
    key = jax.random.key(0)
    log = _log(verbose)
    compile_ = (
        (lambda low: low.compile(compiler_options=compiler_options))
        if compiler_options
        else (lambda low: low.compile())
    )

    # The step first (its compile is the number that matters most; lowering needs only the state's shapes),
    # then the reset, each printed as soon as it is measured.
    state_shape = jax.eval_shape(menv.reset, key)
    actions = jax.random.uniform(jax.random.key(1), (menv.num_envs, 4), minval=-1.0, maxval=1.0)
    t = time.perf_counter()
    lowered = jax.jit(menv.step).lower(state_shape, actions)
    step_lower = time.perf_counter() - t
    log("step lower", step_lower)
    t = time.perf_counter()
    step = compile_(lowered)
    step_compile = time.perf_counter() - t
    log("step compile", step_compile)

    t = time.perf_counter()
    lowered = jax.jit(menv.reset).lower(key)
    reset_lower = time.perf_counter() - t
    log("reset lower", reset_lower)
    t = time.perf_counter()
    reset = compile_(lowered)
    reset_compile = time.perf_counter() - t
    log("reset compile", reset_compile)
    state = jax.block_until_ready(reset(key))
    sps = _throughput(step, state, actions, menv.num_envs, steps, repeats)
    return dict(
        build=build,
        groups=groups,
        reset_lower=reset_lower,
        reset_compile=reset_compile,
        step_lower=step_lower,
        step_compile=step_compile,
        sps=sps,
        peak_rss=_peak_rss_gb(),
        compile_wall=step_lower + step_compile + reset_lower + reset_compile,
    )


def measure_split(
    bench,
    skills,
    envs_per_skill: int,
    steps: int,
    repeats: int,
    verbose: bool = False,
    workers: int = 1,
    per_group: bool = False,
    mw_steps: int = 1000,
    compiler_options=None,
) -> dict:
    """SplitMultiTaskEnv: one executable per physics group (reset pool and step) plus `start` / `finish`."""
    t = time.perf_counter()
    menv = make_multitask(bench, envs_per_skill, skills=skills)
    build = time.perf_counter() - t
    split = SplitMultiTaskEnv(menv, compiler_options=compiler_options)
    key = jax.random.key(0)

    def on_done(name, rec):
        if verbose:
            print(
                f"  {name} ({', '.join(rec['skills']) if name[:4] in ('pool', 'step') else 'all skills'}): "
                f"lower {rec['lower_s']:.1f} s, compile {rec['compile_s']:.1f} s "
                f"(peak RSS so far {_peak_rss_gb():.1f} GB)",
                flush=True,
            )

    t = time.perf_counter()
    recs = split.compile(key, workers=workers, on_done=on_done)
    compile_wall = time.perf_counter() - t
    is_step = lambda n: n.startswith("step") or n == "finish"  # noqa: E731
    total = lambda f, sel: sum(r[f] for n, r in recs.items() if sel(n))  # noqa: E731
    actions = jax.random.uniform(jax.random.key(1), (menv.num_envs, 4), minval=-1.0, maxval=1.0)
    state = jax.block_until_ready(split.reset(key))
    sps = _throughput(split.step, state, actions, menv.num_envs, steps, repeats)
    out = dict(
        build=build,
        groups=len(split.physics_groups),
        compile_wall=compile_wall,
        step_lower=total("lower_s", is_step),
        step_compile=total("compile_s", is_step),
        reset_lower=total("lower_s", lambda n: not is_step(n)),
        reset_compile=total("compile_s", lambda n: not is_step(n)),
        sps=sps,
        peak_rss=_peak_rss_gb(),
    )
    if per_group:
        from envs.reference import metaworld_throughput

        n = menv.envs_per_skill
        rows = []
        for gi, members in enumerate(split.physics_groups):
            states, acts = menv.group_inputs(gi, state.groups, actions)
            group_sps = _throughput(split._compiled[f"step{gi}"], states, acts, n * len(members), steps, repeats)
            rows.append(
                dict(
                    skills=[menv.skills[g] for g in members],
                    batch=n * len(members),
                    step_compile=recs[f"step{gi}"]["compile_s"],
                    sps=group_sps,
                    mw_sps=[metaworld_throughput(menv.skills[g], mw_steps) for g in members],
                )
            )
        out["per_group"] = rows
    return out


def _peak_rss_gb() -> float:
    """This process's peak resident set size so far, GB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


#: mode -> (share_physics, full_forward) of the one-module builds; "split" is SplitMultiTaskEnv
MODES = {"shared": (True, False), "per-skill": (False, False), "full-forward": (True, True), "split": (True, False)}


def _one_mode(args, skills) -> dict:
    bench = envs.benchmark(args.bench)
    opts = {"xla_backend_optimization_level": args.xla_opt_level} if args.xla_opt_level is not None else None
    if args.one_mode == "split":
        return measure_split(
            bench,
            skills,
            args.envs_per_skill,
            args.steps,
            args.repeats,
            verbose=True,
            workers=args.workers,
            per_group=args.per_group,
            mw_steps=args.mw_steps,
            compiler_options=opts,
        )
    share, full = MODES[args.one_mode]
    return measure(
        bench,
        skills,
        args.envs_per_skill,
        share,
        args.steps,
        args.repeats,
        verbose=True,
        full_forward=full,
        compiler_options=opts,
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", default="MT10", help="benchmark name (MT10, MT50, ML10, ML45, MT1/<skill>, ...)")
    p.add_argument("--split", default="train", choices=["train", "test"])
    p.add_argument("--skills", nargs="*", default=None, help="a subset of the benchmark's skills")
    p.add_argument("--ported-only", action="store_true", help="drop the benchmark's skills not ported yet")
    p.add_argument("--envs-per-skill", type=int, default=8)
    p.add_argument(
        "--modes",
        nargs="*",
        default=["shared", "per-skill"],
        choices=list(MODES),
        help="shared: one jitted step / reset, skills with one compiled model share a physics call; "
        "per-skill: none shared; full-forward: shared, and every step ends with a full forward "
        "pass; split: one executable per physics group (envs.split)",
    )
    p.add_argument("--workers", type=int, default=1, help="split mode: executables compiled concurrently")
    p.add_argument(
        "--per-group",
        action="store_true",
        help="split mode: a row per physics group (compile, env-steps/s, metaworld env-steps/s)",
    )
    p.add_argument("--mw-steps", type=int, default=1000, help="--per-group: metaworld steps per skill")
    p.add_argument(
        "--xla-opt-level",
        type=int,
        default=None,
        help="XLA backend optimization level for every compile (default: XLA's, 2)",
    )
    p.add_argument("--steps", type=int, default=20, help="env steps per timed repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--warm",
        action="store_true",
        help="each mode twice, sharing a fresh persistent cache: cold (filling it), then warm",
    )
    p.add_argument("--one-mode", default=None, choices=list(MODES), help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.envs_per_skill < 1:
        p.error(f"--envs-per-skill must be >= 1, got {args.envs_per_skill}")
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    if args.steps < 1 or args.repeats < 1 or args.mw_steps < 1:
        p.error(f"--steps, --repeats and --mw-steps must be >= 1, got {args.steps}, {args.repeats}, {args.mw_steps}")
    if args.xla_opt_level is not None and args.xla_opt_level not in (0, 1, 2, 3):
        p.error(f"--xla-opt-level must be 0-3, got {args.xla_opt_level}")
    if args.per_group and not args.one_mode and "split" not in args.modes:
        p.error("--per-group needs the split mode (--modes ... split)")
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
    if args.cache_dir:  # --warm's child processes: the run's own cache directory
        from envs._runtime import enable_compilation_cache

        enable_compilation_cache(args.cache_dir)
    else:  # cold compiles only: the user's cache would turn a repeated build into a cache hit
        jax.config.update("jax_enable_compilation_cache", False)
    if args.one_mode:  # child process: measure one mode, print its record as the last line
        print("RESULT " + json.dumps(_one_mode(args, skills)), flush=True)
        return

    print(
        f"device: {jax.devices()[0].platform}, cpu cores: {os.cpu_count()}, {args.bench} {args.split}: "
        f"{len(skills)} skills{' (ported part, ' + str(len(missing)) + ' not ported)' if missing else ''}, "
        f"{args.envs_per_skill} envs per skill; "
        f"{'cold, then warm from a fresh persistent cache' if args.warm else 'persistent compilation cache off'}; "
        f"each mode in its own process"
        + (f"; XLA backend optimization level {args.xla_opt_level}" if args.xla_opt_level is not None else ""),
        flush=True,
    )
    rows = {}
    cache_root = tempfile.mkdtemp(prefix="bench_mt_compile_cache_") if args.warm else None
    runs = (
        [(m, m, None) for m in args.modes]
        if not args.warm
        else [(m if i == 0 else f"{m} warm", m, os.path.join(cache_root, m)) for m in args.modes for i in range(2)]
    )
    try:
        for label, mode, cache_dir in runs:
            print(f"[{label}]", flush=True)
            cmd = [sys.executable, os.path.abspath(__file__), *_child_args(argv), "--one-mode", mode]
            if cache_dir is not None:
                cmd += ["--cache-dir", cache_dir]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            record = None
            for line in proc.stdout:
                if line.startswith("RESULT "):
                    record = json.loads(line[len("RESULT ") :])
                else:
                    print(line, end="", flush=True)
            if proc.wait() != 0 or record is None:
                print(
                    f"{label}: the measuring process failed (exit {proc.returncode}; -9: killed, e.g. out of memory)",
                    flush=True,
                )
                continue
            rows[label] = record
    finally:
        if cache_root is not None:
            shutil.rmtree(cache_root, ignore_errors=True)
    print(
        f"{'mode':17s} {'groups':>6s} {'build_s':>7s} {'reset_lower_s':>13s} {'reset_compile_s':>15s} "
        f"{'step_lower_s':>12s} {'step_compile_s':>14s} {'compile_wall_s':>14s} {'env_steps/s':>11s} "
        f"{'peak_rss_gb':>11s}"
    )
    for mode, r in rows.items():
        print(
            f"{mode:17s} {r['groups']:6d} {r['build']:7.1f} {r['reset_lower']:13.1f} {r['reset_compile']:15.1f} "
            f"{r['step_lower']:12.1f} {r['step_compile']:14.1f} {r['compile_wall']:14.1f} {r['sps']:11.0f} "
            f"{r['peak_rss']:11.1f}",
            flush=True,
        )
    for other in ("per-skill", "full-forward", "split"):
        if "shared" in rows and other in rows:
            s, u = rows["shared"], rows[other]
            print(
                f"shared / {other}: reset compile {s['reset_compile'] / u['reset_compile']:.2f}x, "
                f"step compile {s['step_compile'] / u['step_compile']:.2f}x, compile wall "
                f"{s['compile_wall'] / u['compile_wall']:.2f}x, peak RSS {s['peak_rss'] / u['peak_rss']:.2f}x, "
                f"throughput {s['sps'] / u['sps']:.2f}x"
            )
    for mode in args.modes:
        if mode in rows and f"{mode} warm" in rows:
            c, w = rows[mode], rows[f"{mode} warm"]
            print(
                f"{mode} cold / warm: compile wall {c['compile_wall'] / w['compile_wall']:.1f}x "
                f"({c['compile_wall']:.1f} s -> {w['compile_wall']:.1f} s), peak RSS {c['peak_rss']:.1f} -> "
                f"{w['peak_rss']:.1f} GB, throughput {w['sps'] / c['sps']:.2f}x"
            )
    groups = rows.get("split", {}).get("per_group")
    if groups:
        print(f"\nper physics group (split mode, {args.envs_per_skill} envs per skill; metaworld: one process)")
        print(f"{'skills':60s} {'batch':>5s} {'step_compile_s':>14s} {'mjx_sps':>8s} {'mw_sps':>16s} {'mjx/mw':>12s}")
        for r in groups:
            mw = r["mw_sps"]
            per_skill_mjx = r["sps"] / len(r["skills"])  # the group's instances are envs_per_skill per member
            print(
                f"{', '.join(r['skills']):60s} {r['batch']:5d} {r['step_compile']:14.1f} {r['sps']:8.0f} "
                f"{'/'.join(f'{m:.0f}' for m in mw):>16s} "
                f"{'/'.join(f'{per_skill_mjx / m:.2f}' for m in mw):>12s}",
                flush=True,
            )


def _child_args(argv) -> list[str]:
    """The parent's command line minus --modes and its values (the child gets --one-mode)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, skip = [], False
    for a in argv:
        if a == "--modes":
            skip = True
            continue
        if skip and a.startswith("--"):
            skip = False
        if not skip:
            out.append(a)
    return out


if __name__ == "__main__":
    main()
