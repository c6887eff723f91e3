"""Time from launch to the first env step of `jaxmeta train`, cold and warm compilation cache, side by side,
and training env-steps/s on one host device (the trainer's CPU default) vs sharded over one per core.

Every case is one `python -m jaxmeta train ... --no-progress` process in a fresh run directory:

* cold: a new, empty persistent compilation cache (`JAXMETA_CACHE_DIR`): everything is compiled;
* warm: the same cache again, as a second launch of the same job (executables loaded from the cache);
* sharded: `--devices <all host devices>` (one per core, `envs._runtime`; its programs differ, so they
  compile cold), for the env-steps/s ratio of sharding a run over every core;
* flags: cold, with `--xla-flags` appended to XLA_FLAGS (e.g. an XLA option against the defaults).

Per case: seconds from the process's start to its first env step (`summary.json` timings_s.
process_to_first_step), the compile timings (`timings_s.compile`), the process's peak resident memory
(`os.wait4`), its peak count of memory mappings (`/proc/<pid>/maps`, sampled every 0.5 s: XLA:CPU maps
each compiled object's sections, and Linux's `vm.max_map_count` caps them), steady-state training
env-steps/s (chunks after the first), the devices used, and the final
evaluation success. Ratios: cold / warm launch, env-steps/s of the sharded run / the 1-device run, and flags /
cold (first env step, compile, peak mappings, env-steps/s).

    .venv/bin/python experiments/bench_start.py                    # MT1 (`default` preset) and MT10
    .venv/bin/python experiments/bench_start.py --jobs mt1-solve main-solve --cases cold   # time to 0.9
    .venv/bin/python experiments/bench_start.py --jobs mt1 --json /tmp/start.json
    .venv/bin/python experiments/bench_start.py --cases cold flags --xla-flags=--xla_cpu_parallel_codegen_split_count=32
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SOLVE = ["--total-steps", "64k", "--chunk-steps", "8k", "--eval-every", "8k", "--eval-episodes", "20"]
#: name -> `jaxmeta train` arguments. mt1: the `default` preset's MT1/reach-v3 job (the main job until
#: 2026-12-07); main: the main job now (`jaxmeta train`, the `mt1-fast` preset); *-solve: the same run on to 64k
#: env steps, evaluated every 8k (the first evaluation with success >= 0.9 is reported); mt10: issue 15's MT10
#: job on the `default` preset's learner, shortened to 4 chunks of 8k env steps.
JOBS = {
    "mt1": ["--preset", "default", "--total-steps", "24k", "--chunk-steps", "8k", "--eval-every", "16k"],
    "main": ["--total-steps", "24k", "--chunk-steps", "8k", "--eval-every", "16k"],
    "mt1-solve": ["--preset", "default", *_SOLVE],
    "main-solve": _SOLVE,
    "mt10": [
        "--preset",
        "default",
        "--benchmark",
        "MT10",
        "--envs-per-skill",
        "8",
        "--updates-per-step",
        "8",
        "--batch-size",
        "512",
        "--total-steps",
        "32k",
        "--chunk-steps",
        "8k",
        "--eval-every",
        "32k",
    ],
}


def _count_maps(pid: int, peak: list, done: threading.Event) -> None:
    while not done.is_set():
        try:
            with open(f"/proc/{pid}/maps") as f:
                peak[0] = max(peak[0], sum(1 for _ in f))
        except OSError:  # not Linux, or the process is gone
            return
        done.wait(0.5)


def run_case(args: list[str], cache: str, timeout: float, xla_flags: str = "") -> dict:
    out = tempfile.mkdtemp(prefix="bench_start_run_")
    env = {**os.environ, "JAXMETA_CACHE_DIR": cache}
    if xla_flags:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {xla_flags}".strip()
    cmd = [
        sys.executable,
        "-m",
        "jaxmeta",
        "train",
        *args,
        "--checkpoint-every",
        "0",
        "--out",
        os.path.join(out, "run"),
        "--no-progress",
    ]
    log_path = os.path.join(out, "output.txt")
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        peak_maps, done = [0], threading.Event()
        counter = threading.Thread(target=_count_maps, args=(proc.pid, peak_maps, done), daemon=True)
        counter.start()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
        done.set()
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    with open(log_path) as f:
        output = f.read()
    wall = time.perf_counter() - t0
    try:
        with open(os.path.join(out, "run", "summary.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        shutil.rmtree(out, ignore_errors=True)
        raise RuntimeError(f"{' '.join(cmd)} failed (rc {proc.returncode}):\n{output[-3000:]}") from None
    t = summary["timings_s"]
    solved = None  # the first evaluation with success >= 0.9: (env steps per seed, seconds since launch)
    with open(os.path.join(out, "run", "metrics.csv")) as f:
        for row in csv.DictReader(f):
            if row["kind"] == "eval" and row["eval_success"] and float(row["eval_success"]) >= 0.9:
                solved = (int(row["env_steps"]), t["process_to_first_step"] + float(row["wall_s"]))
                break
    shutil.rmtree(out, ignore_errors=True)
    fe = summary.get("final_eval") or {}
    return {
        "first_step_s": t.get("process_to_first_step"),
        "compile_s": {k: round(v, 1) for k, v in t["compile"].items()},
        "wall_s": wall,
        "env_steps_per_s": summary.get("env_steps_per_s_steady"),
        "devices": summary["devices"],
        "eval_success": fe.get("success"),
        "peak_rss_gb": usage.ru_maxrss / 1e6,  # kB on Linux
        "peak_maps": peak_maps[0],
        "solved_at": solved,
        "output": output,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", nargs="+", choices=sorted(JOBS), default=["mt1", "mt10"])
    p.add_argument(
        "--cases", nargs="+", choices=["cold", "warm", "sharded", "flags"], default=["cold", "warm", "sharded"]
    )
    p.add_argument("--xla-flags", default="", help="XLA flags of the `flags` case (appended to XLA_FLAGS)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per case")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()
    if "flags" in a.cases and not a.xla_flags:
        p.error("the flags case needs --xla-flags")  # before any case runs

    results: dict = {}
    for job in a.jobs:
        cache = tempfile.mkdtemp(prefix="bench_start_cache_")
        results[job] = {}
        try:
            for case in a.cases:
                args = JOBS[job] + (["--devices", str(os.cpu_count() or 1)] if case == "sharded" else [])
                try:
                    if case == "flags":  # cold, in a cache of its own
                        own = tempfile.mkdtemp(prefix="bench_start_cache_")
                        try:
                            r = run_case(args, own, a.timeout, a.xla_flags)
                        finally:
                            shutil.rmtree(own, ignore_errors=True)
                    else:
                        r = run_case(args, cache, a.timeout)
                except RuntimeError as e:  # keep the other cases; say what failed
                    print(f"{job} {case}: FAILED: {str(e)[-1500:]}", flush=True)
                    continue
                results[job][case] = r
                print(
                    f"{job} {case}: first env step at {r['first_step_s']:.1f} s, peak RSS {r['peak_rss_gb']:.1f} GB, "
                    f"{r['peak_maps']:,} maps, "
                    f"{r['env_steps_per_s']:,.0f} env-steps/s on {r['devices']} device(s), compile {r['compile_s']}",
                    flush=True,
                )
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    print()
    if "flags" in a.cases:
        print(f"flags case: XLA_FLAGS += {a.xla_flags}")
    print(
        "| job | case | first env step (s) | compile total (s) | peak RSS (GB) | peak maps | devices | env-steps/s | "
        "eval success | first eval >= 0.9 (env steps, s since launch) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for job, cases in results.items():
        for case, r in cases.items():
            solved = "" if r["solved_at"] is None else f"{r['solved_at'][0]:,}, {r['solved_at'][1]:.1f}"
            success = "" if r["eval_success"] is None else r["eval_success"]
            print(
                f"| {job} | {case} | {r['first_step_s']:.1f} | {r['compile_s']['total']:.1f} | {r['peak_rss_gb']:.1f} | "
                f"{r['peak_maps']:,} | {r['devices']} | {r['env_steps_per_s']:,.0f} | {success} | {solved} |"
            )
    for job, cases in results.items():
        if "cold" in cases and "warm" in cases:
            print(
                f"{job}: cold / warm first env step {cases['cold']['first_step_s'] / cases['warm']['first_step_s']:.2f}x"
            )
        if "flags" in cases and "cold" in cases:
            c, f = cases["cold"], cases["flags"]
            print(
                f"{job}: flags / cold: first env step {f['first_step_s'] / c['first_step_s']:.2f}x, compile "
                f"{f['compile_s']['total'] / c['compile_s']['total']:.2f}x, peak maps {f['peak_maps'] / c['peak_maps']:.2f}x, "
                f"env-steps/s {f['env_steps_per_s'] / c['env_steps_per_s']:.2f}x"
            )
        if "sharded" in cases and ("warm" in cases or "cold" in cases):
            one = cases.get("warm") or cases["cold"]
            sh = cases["sharded"]
            print(
                f"{job}: env-steps/s {sh['devices']} devices / {one['devices']} device "
                f"{sh['env_steps_per_s'] / one['env_steps_per_s']:.2f}x"
            )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    j: {c: {k: v for k, v in r.items() if k != "output"} for c, r in cs.items()}
                    for j, cs in results.items()
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
