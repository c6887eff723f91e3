"""kill -9 test of resume (issue 20 item 4): does a run killed at a random moment and resumed with
``--resume`` end exactly like an uninterrupted one?

    python experiments/fault_kill.py --trials 10 --seed 0 --json docs/results/fault_kill.json

1. runs the toy job (``jaxmeta train --benchmark toy/2 ...``, 5 chunks of 4000 env steps, checkpoints
   every 2 chunks and at the end) once uninterrupted: the reference, and the window from its
   "compiled in" line to its last checkpoint's completion;
2. per trial (seeded ``random.Random(seed * 1000 + trial)``): starts the same job in a fresh directory
   and sends SIGKILL either at a uniformly random moment of that window ("random" trials) or, every
   third trial ("checkpoint" trials), the moment a checkpoint write's temporary directory
   (``<step>.orbax-checkpoint-tmp-*``) appears, after a random number (0-2) of such writes;
3. tells from what the process left which phase it was killed in: ``checkpoint write`` (an orbax
   temporary directory was seen at the kill or is left), ``checkpoint write (no directory yet)`` (the
   checkpoint due after the last logged chunk is missing, no temporary directory: killed while orbax
   copied the state off the device, before writing), ``evaluation`` (the last logged chunk's evaluation
   row is missing although due), ``chunk <c>`` (the rows of chunk c-1 and everything due after it are
   there), ``after the last checkpoint (summary, plot)``, ``start-up`` (killed before the "compiled
   in" line), ``after the end`` (the process had exited);
4. continues the job with ``jaxmeta train --resume --out DIR`` (or, when it died before its first
   checkpoint, starts it again with ``--overwrite``) until it completes, and compares metrics.csv
   (every column but the timing ones, `jaxmeta.metrics_log.TIMING_COLUMNS`) and the final checkpoint's
   state and policy arrays, byte for byte, with the reference.

Prints N and how many trials were identical; writes every trial to the JSON file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JOB = [
    "--benchmark",
    "toy/2",
    "--envs-per-skill",
    "4",
    "--max-path-length",
    "20",
    "--total-steps",
    "20000",
    "--warmup-steps",
    "400",
    "--chunk-steps",
    "4000",
    "--checkpoint-every",
    "8000",
    "--batch-size",
    "64",
    "--buffer-capacity",
    "8192",
    "--hidden",
    "32,32",
    "--eval-episodes",
    "2",
    "--eval-every",
    "8000",
    "--no-progress",
]


def jaxmeta(*args: str) -> list[str]:
    return [sys.executable, "-m", "jaxmeta", "train", *args]


def start(cmd: list[str], log: Path) -> tuple[subprocess.Popen, object]:
    f = log.open("w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env), f


def wait_for_line(proc: subprocess.Popen, log: Path, text: str, timeout: float = 600.0) -> float | None:
    """perf_counter time at which `text` appeared in the log (None if the process exited first)."""
    t_end = time.perf_counter() + timeout
    while time.perf_counter() < t_end:
        if text in log.read_text():
            return time.perf_counter()
        if proc.poll() is not None:
            return time.perf_counter() if text in log.read_text() else None
        time.sleep(0.002)
    raise TimeoutError(f"{text!r} did not appear in {log}")


def tmp_dirs(run: Path) -> list[str]:
    d = run / "checkpoints"
    try:
        return sorted(p.name for p in d.iterdir() if ".orbax-checkpoint-tmp" in p.name)
    except FileNotFoundError:
        return []


def metrics(run: Path) -> list[dict]:
    from jaxmeta.metrics_log import TIMING_COLUMNS

    if not (run / "metrics.csv").is_file():
        return []
    with (run / "metrics.csv").open(newline="") as f:
        return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in csv.DictReader(f)]


def final_arrays(run: Path) -> dict:
    import numpy as np

    from jaxmeta.checkpoint import latest_step, read_checkpoint, restore_policy

    step = latest_step(run)
    state = read_checkpoint(run, step)["state"]
    pol = restore_policy(run, step)
    import jax

    out = {f"state/{k}": np.asarray(v) for k, v in state.items()}
    for name in ("actor_params", "critic_params"):
        for path, x in jax.tree_util.tree_flatten_with_path(pol[name])[0]:
            out[f"{name}{jax.tree_util.keystr(path)}"] = np.asarray(x)
    return {"step": step, "arrays": out}


def same_arrays(a: dict, b: dict) -> bool:
    if a["step"] != b["step"] or a["arrays"].keys() != b["arrays"].keys():
        return False
    return all(
        x.dtype == b["arrays"][k].dtype and x.shape == b["arrays"][k].shape and x.tobytes() == b["arrays"][k].tobytes()
        for k, x in a["arrays"].items()
    )


def phase_of(run: Path, exited: bool, compiled: bool, tmp_at_kill: list[str]) -> str:
    """The phase the process was killed in, from what it left (see the module docstring)."""
    if exited:
        return "after the end"
    if not compiled:
        return "start-up"
    if tmp_dirs(run) or tmp_at_kill:
        return "checkpoint write"
    from jaxmeta.checkpoint import checkpoint_steps, load_config

    cfg = load_config(run)
    rows = metrics(run)
    done = [int(r["chunk"]) for r in rows if r["kind"] == "train"]
    if not done:
        return "chunk 1"
    c = max(done)
    if cfg.due(c, cfg.eval_every) and not any(r["kind"] == "eval" and int(r["chunk"]) == c for r in rows):
        return "evaluation"
    if (
        cfg.due(c, cfg.checkpoint_every) or c == cfg.num_chunks
    ) and c * cfg.env_steps_per_chunk not in checkpoint_steps(run):
        return "checkpoint write (no directory yet)"
    return f"chunk {c + 1}" if c < cfg.num_chunks else "after the last checkpoint (summary, plot)"


def finish(run: Path, log_dir: Path, trial: int) -> list[dict]:
    """Resume (or restart) the job until it completes; the commands run and their outcome."""
    from jaxmeta.checkpoint import checkpoint_steps

    steps = []
    for attempt in range(4):
        if checkpoint_steps(run):
            cmd = jaxmeta("--resume", "--out", str(run), "--no-progress")
        else:  # killed before its first checkpoint: start again
            cmd = jaxmeta(*JOB, "--out", str(run), *(["--overwrite"] if (run / "config.json").is_file() else []))
        log = log_dir / f"trial{trial}_finish{attempt}.log"
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, timeout=900)
        log.write_text(p.stdout)
        notes = [
            ln
            for ln in p.stdout.splitlines()
            if ln.startswith(("warning:", "resumed", "resuming", "jaxmeta train: error"))
        ]
        steps.append(
            {"command": " ".join(cmd[2:]), "rc": p.returncode, "s": round(time.perf_counter() - t0, 2), "notes": notes}
        )
        if p.returncode == 0:
            break
    return steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/tmp/jaxmeta_fault_kill", help="scratch directory (replaced)")
    ap.add_argument("--json", default=str(ROOT / "docs" / "results" / "fault_kill.json"))
    args = ap.parse_args(argv)

    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    logs = work / "logs"
    logs.mkdir(parents=True)
    t_all = time.perf_counter()

    ref = work / "reference"
    proc, f = start(jaxmeta(*JOB, "--out", str(ref)), logs / "reference.log")
    t_c = wait_for_line(proc, logs / "reference.log", "compiled in")
    final_dir = ref / "checkpoints" / str(20000)  # (--total-steps of JOB)
    while proc.poll() is None and not final_dir.is_dir():
        time.sleep(0.001)
    window = time.perf_counter() - t_c  # "compiled in" -> the last checkpoint is complete
    rc = proc.wait()
    f.close()
    if rc != 0:
        print((logs / "reference.log").read_text())
        raise SystemExit(f"the reference run failed (rc {rc})")
    ref_rows, ref_arrays = metrics(ref), final_arrays(ref)
    print(
        f"reference: {len(ref_rows)} metrics rows, final checkpoint {ref_arrays['step']} "
        f"({len(ref_arrays['arrays'])} arrays); {window:.2f}s from 'compiled in' to its last checkpoint",
        flush=True,
    )

    trials = []
    for i in range(args.trials):
        rng = random.Random(args.seed * 1000 + i)
        mode = "checkpoint" if i % 3 == 2 else "random"
        run = work / f"trial{i}"
        log = logs / f"trial{i}_killed.log"
        proc, f = start(jaxmeta(*JOB, "--out", str(run)), log)
        t_c = wait_for_line(proc, log, "compiled in")
        tmp_at_kill: list[str] = []
        if mode == "random":
            delay = rng.uniform(0.0, window)
            while proc.poll() is None and time.perf_counter() < t_c + delay:
                time.sleep(0.001)
            target = {"delay_after_compiled_s": round(delay, 3)}
        else:
            skip, seen = rng.randrange(3), set()
            while proc.poll() is None:
                now = tmp_dirs(run)
                new = [n for n in now if n not in seen]
                seen.update(now)
                if new and skip == 0:
                    tmp_at_kill = new
                    break
                if new:
                    skip -= 1
                time.sleep(0.0005)
            target = {"kill_at_checkpoint_write": True, "writes_let_through": len(seen) - len(tmp_at_kill)}
        t_kill = time.perf_counter()
        exited = proc.poll() is not None
        if not exited:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        f.close()
        phase = phase_of(run, exited, t_c is not None, tmp_at_kill)
        left = {
            "checkpoints": sorted(p.name for p in (run / "checkpoints").iterdir())
            if (run / "checkpoints").is_dir()
            else [],
            "metrics_rows": len(metrics(run)),
        }
        steps = finish(run, logs, i)
        ok = steps[-1]["rc"] == 0
        rows_same = ok and metrics(run) == ref_rows
        arrays_same = ok and same_arrays(final_arrays(run), ref_arrays)
        t = {
            "trial": i,
            "mode": mode,
            **target,
            "killed_after_compiled_s": None if t_c is None else round(t_kill - t_c, 3),
            "phase": phase,
            "left_behind": left,
            "finish": steps,
            "completed": ok,
            "metrics_identical": rows_same,
            "params_identical": arrays_same,
        }
        trials.append(t)
        print(
            f"trial {i}: {mode:10s} killed {t['killed_after_compiled_s']}s after compile, phase {phase:18s} "
            f"left {left['checkpoints']} -> {len(steps)} run(s) to finish; metrics identical {rows_same}, "
            f"params identical {arrays_same}" + "".join(f"\n    {n}" for s in steps for n in s["notes"]),
            flush=True,
        )
        shutil.rmtree(run / "checkpoints-discarded", ignore_errors=True)

    n_same = sum(t["metrics_identical"] and t["params_identical"] for t in trials)
    n_killed = sum(t["phase"] != "after the end" for t in trials)
    result = {
        "command": " ".join(["python", "experiments/fault_kill.py"] + (sys.argv[1:] if argv is None else list(argv))),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "job": "jaxmeta train " + " ".join(JOB),
        "reference": {
            "metrics_rows": len(ref_rows),
            "final_step": ref_arrays["step"],
            "arrays": len(ref_arrays["arrays"]),
            "kill_window_s": round(window, 3),
        },
        "trials_run": len(trials),
        "killed": n_killed,
        "identical": n_same,
        "phases": {p: sum(t["phase"] == p for t in trials) for p in sorted({t["phase"] for t in trials})},
        "wall_s": round(time.perf_counter() - t_all, 1),
        "trials": trials,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(
        f"N = {len(trials)} trials ({n_killed} killed before they ended), {n_same} identical to the uninterrupted one "
        f"(metrics.csv rows and final checkpoint arrays); phases {result['phases']}; {args.json}"
    )
    return 0 if n_same == len(trials) else 1


if __name__ == "__main__":
    sys.exit(main())
