"""One training job three ways, side by side in one run: 1 process on 1 device, 1 process sharded over
N host devices, N processes x 1 device each (jax.distributed, gloo collectives on a CPU).

    .venv/bin/python experiments/bench_distributed.py                       # MT1/reach-v3, N = 2
    .venv/bin/python experiments/bench_distributed.py --json docs/results/bench_distributed.json \\
        -- --benchmark MT1/reach-v3 --envs-per-skill 16 --total-steps 48000

Each case is fresh `python -m jaxmeta train` process(es) in a new run directory; the figures are each
run's summary.json (process 0's): steady env-steps/s (chunks after the first), compile seconds, the
process's age at the first env step. Arguments after ``--`` go to every `jaxmeta train` (default: the
job of `DEFAULT_JOB`). The multi-process case's metrics and final state are also compared with the
one-process sharded case (they should be equal bit for bit: tests/jaxmeta/test_distributed.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JOB = [
    "--benchmark",
    "MT1/reach-v3",
    "--envs-per-skill",
    "16",
    "--batch-size",
    "256",
    "--updates-per-step",
    "1",
    "--total-steps",
    "32000",
    "--warmup-steps",
    "2000",
    "--chunk-steps",
    "4000",
    "--eval-every",
    "0",
    "--checkpoint-every",
    "0",
]
TIMING = {"wall_s", "env_sps", "train_s", "eval_s"}


def _env(devices: int) -> dict:
    flags = " ".join(
        f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")
    )
    return {**os.environ, "XLA_FLAGS": flags, "JAXMETA_CPU_DEVICES": str(devices)}


def _cmd(out: Path, job: list[str], extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "jaxmeta", "train", "--out", str(out), "--no-progress", *job, *extra]


def run_case(name: str, out: Path, job: list[str], n: int) -> dict:
    if name == "1 process, 1 device":
        procs = [
            subprocess.Popen(
                _cmd(out, job, ["--devices", "1"]),
                env=_env(1),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        ]
    elif name.startswith("1 process"):
        procs = [
            subprocess.Popen(
                _cmd(out, job, ["--devices", str(n)]),
                env=_env(n),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        ]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        procs = [
            subprocess.Popen(
                _cmd(
                    out, job, ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(n), "--process-id", str(i)]
                ),
                env=_env(1),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for i in range(n)
        ]
    logs = [p.communicate()[0] for p in procs]
    if any(p.returncode != 0 for p in procs):
        raise SystemExit(f"{name} failed:\n" + "\n---\n".join(logs))
    s = json.loads((out / "summary.json").read_text())
    t = s["timings_s"]
    return {
        "case": name,
        "processes": s.get("processes", 1),
        "devices": s["devices"],
        "env_steps_per_s": s["env_steps_per_s_steady"],
        "compile_s": t["compile"]["total"],
        "first_step_s": t["process_to_first_step"],
        "train_s": t["train"],
    }


def _rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def same_run(a: Path, b: Path) -> bool:
    sys.path.insert(0, str(REPO))
    import numpy as np

    from jaxmeta.checkpoint import read_checkpoint

    if _rows(a) != _rows(b):
        return False
    sa, sb = read_checkpoint(a)["state"], read_checkpoint(b)["state"]
    return sa.keys() == sb.keys() and all(np.array_equal(np.asarray(sa[k]), np.asarray(sb[k])) for k in sa)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job = DEFAULT_JOB
    if "--" in argv:
        i = argv.index("--")
        argv, job = argv[:i], argv[i + 1 :]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2, help="N (processes, and host devices of the sharded case)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    n = args.processes
    if n < 2:
        ap.error(f"--processes must be >= 2, got {n}")
    root = Path(tempfile.mkdtemp(prefix="bench_distributed-"))
    cases = ["1 process, 1 device", f"1 process, {n} devices", f"{n} processes x 1 device"]
    results, dirs = [], {}
    try:
        for c in cases:
            dirs[c] = root / c.replace(" ", "_").replace(",", "")
            r = run_case(c, dirs[c], job, n)
            results.append(r)
            print(
                f"{c}: {r['env_steps_per_s']:,.0f} env-steps/s, compile {r['compile_s']:.1f}s, first env step at "
                f"{r['first_step_s']:.1f}s",
                flush=True,
            )
        equal = same_run(dirs[cases[1]], dirs[cases[2]])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = results[0]["env_steps_per_s"]
    print("\n| case | processes | devices | env-steps/s | vs 1 device | compile (s) | first env step (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['case']} | {r['processes']} | {r['devices']} | {r['env_steps_per_s']:,.0f} | "
            f"{r['env_steps_per_s'] / base:.2f}x | {r['compile_s']:.1f} | {r['first_step_s']:.1f} |"
        )
    ratio = results[2]["env_steps_per_s"] / results[1]["env_steps_per_s"]
    print(f"\n{cases[2]} / {cases[1]}: {ratio:.2f}x env-steps/s; metrics and final state equal: {equal}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"job": job, "cases": results, "multi_vs_sharded": ratio, "bitwise_equal": equal}, indent=2)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
