"""Run logging: metrics.csv (one row per chunk and seed, plus evaluation rows), summary.json, a
learning-curve PNG (matplotlib, Agg) and a tqdm progress bar.

(Named ``metrics_log`` rather than ``logging`` so it can never shadow the standard library module.)

metrics.csv columns: ``kind`` ("train" | "eval"), ``chunk`` (1-based), ``seed`` (index within the run),
``env_steps`` (per seed), ``updates``, ``wall_s`` (seconds since the run (re)started, excluding compile),
``env_sps`` (env steps/s of that chunk, all seeds), then the train metrics of `jaxmeta.train`
(``episode_success``, ``episode_return``, ``reward``, SAC losses, ...) or, for eval rows,
``eval_success``, ``eval_return`` and ``eval_success/<skill>`` per skill. Timing columns
(`TIMING_COLUMNS`) are the only ones that differ between an interrupted-and-resumed run and an
uninterrupted one. Runs with extra evaluations (fine-tuning: ``source`` = the pretraining tasks, to
measure forgetting) add ``<name>_success``, ``<name>_return`` and ``<name>_success/<skill>`` to the eval
rows; a zero-shot evaluation before any update is the eval row of chunk 0.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from jaxmeta.learner import SAC_SCALARS

TIMING_COLUMNS = ("wall_s", "env_sps")
TRAIN_COLUMNS = (
    ("episodes", "finished", "episode_success", "episode_return", "reward")
    + SAC_SCALARS
    + ("per_beta", "per_weight_min", "paco_num_masked", "paco_total_resets", "taco_p_min", "taco_p_max",
       "taco_num_groups", "taco_exploring", "physics_nan", "nonfinite_action")
)
EVAL_COLUMNS = ("eval_success", "eval_return")


def nanmean(x: Any) -> float:
    """Mean of the non-NaN entries of `x`; NaN (without numpy's "Mean of empty slice" RuntimeWarning)
    when there is none, e.g. the episode success of a chunk in which no episode finished."""
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    v = np.asarray(v)
    if v.ndim:
        raise ValueError(f"non-scalar metric {v!r}")
    if v.dtype.kind in "iub":
        return str(int(v))
    f = float(v)
    return "nan" if math.isnan(f) else repr(f)


class MetricsLog:
    """Appends rows to ``<run>/metrics.csv``; writes summary.json and learning_curve.png."""

    def __init__(self, run_dir: str | os.PathLike, skills: Iterable[str], task_ids: Iterable[int] | None = None,
                 extra_evals: Mapping[str, Iterable[str]] | None = None):
        """skills: the env skills (eval ``success_per_task`` order). task_ids: index of each skill in the
        per-task train metrics (default 0..n-1; a larger conditioning task space otherwise).
        extra_evals: {name: skills} of extra evaluations logged in the eval rows."""
        self.run_dir = Path(run_dir)
        self.skills = tuple(skills)
        self.task_ids = tuple(range(len(self.skills))) if task_ids is None else tuple(task_ids)
        self.extra = {k: tuple(v) for k, v in (extra_evals or {}).items()}
        self.path = self.run_dir / "metrics.csv"
        extra_cols = tuple(c for name, sk in self.extra.items()
                           for c in (f"{name}_success", f"{name}_return") + tuple(f"{name}_success/{s}" for s in sk))
        self.columns = (
            ("kind", "chunk", "seed", "env_steps", "updates")
            + TIMING_COLUMNS
            + TRAIN_COLUMNS
            + tuple(f"train_success/{s}" for s in self.skills)
            + EVAL_COLUMNS
            + tuple(f"eval_success/{s}" for s in self.skills)
            + extra_cols
        )

    # ------------------------------------------------------------------------------------------ csv
    def start(self, resume_chunk: int | None) -> None:
        """Fresh run: write the header. Resume after chunk c: drop rows of chunks > c (written by the
        interrupted process after its last checkpoint), keep the rest."""
        if resume_chunk is None or not self.path.exists():
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
            return
        rows = self.read()
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, self.columns, restval="", extrasaction="ignore")
            w.writeheader()
            for r in rows:
                if int(r["chunk"]) <= resume_chunk:
                    w.writerow(r)

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))

    def _append(self, rows: list[dict]) -> None:
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, self.columns, restval="", extrasaction="ignore")
            for r in rows:
                w.writerow({k: (v if isinstance(v, str) else _fmt(v)) for k, v in r.items()})

    def log_train(self, chunk: int, metrics: Mapping[str, np.ndarray], wall_s: float, env_sps: float) -> None:
        """metrics: host arrays with a leading seed axis (S, ...)."""
        S = np.shape(metrics["env_steps"])[0]
        rows = []
        for s in range(S):
            r = {"kind": "train", "chunk": chunk, "seed": s, "wall_s": wall_s, "env_sps": env_sps}
            for k in ("env_steps", "updates") + TRAIN_COLUMNS:
                if k in metrics:
                    r[k] = metrics[k][s]
            per_task = metrics.get("episode_success_per_task")
            if per_task is not None:
                for t, name in zip(self.task_ids, self.skills):
                    r[f"train_success/{name}"] = per_task[s][t]
            rows.append(r)
        self._append(rows)

    def log_eval(self, chunk: int, env_steps: np.ndarray, updates: np.ndarray, ev: Mapping[str, np.ndarray],
                 wall_s: float, extra: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
        S = np.shape(ev["success"])[0]
        rows = []
        for s in range(S):
            r = {"kind": "eval", "chunk": chunk, "seed": s, "env_steps": env_steps[s], "updates": updates[s],
                 "wall_s": wall_s, "eval_success": ev["success"][s], "eval_return": ev["return"][s]}
            for t, name in enumerate(self.skills):
                r[f"eval_success/{name}"] = ev["success_per_task"][s][t]
            for name, e in (extra or {}).items():
                r[f"{name}_success"], r[f"{name}_return"] = e["success"][s], e["return"][s]
                for t, sk in enumerate(self.extra[name]):
                    r[f"{name}_success/{sk}"] = e["success_per_task"][s][t]
            rows.append(r)
        self._append(rows)

    # ------------------------------------------------------------------------------------ summary
    def write_summary(self, summary: dict) -> None:
        tmp = self.run_dir / "summary.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2, default=_json_default))
        tmp.replace(self.run_dir / "summary.json")

    # ------------------------------------------------------------------------------------- curves
    def plot(self, title: str = "") -> Path | None:
        """learning_curve.png: eval success (mean over seeds, min-max band) and train episode success
        vs env steps. Returns the path (None if there is nothing to plot)."""
        rows = self.read()
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        def series(kind, col):
            by_step: dict[int, list[float]] = {}
            for r in rows:
                if r["kind"] == kind and r.get(col, "") not in ("", "nan"):
                    by_step.setdefault(int(r["env_steps"]), []).append(float(r[col]))
            xs = sorted(by_step)
            ys = np.array([np.mean(by_step[x]) for x in xs])
            lo = np.array([np.min(by_step[x]) for x in xs])
            hi = np.array([np.max(by_step[x]) for x in xs])
            return np.array(xs), ys, lo, hi

        fig, ax = plt.subplots(figsize=(7, 4.2))
        curves = [("train", "episode_success", "train episodes (stochastic)", "tab:gray"),
                  ("eval", "eval_success", "eval (deterministic)", "tab:blue")]
        colors = iter(("tab:red", "tab:green", "tab:purple", "tab:olive"))
        curves += [("eval", f"{name}_success", f"eval on {name} tasks (forgetting)", next(colors, "k"))
                   for name in self.extra]
        for kind, col, label, color in curves:
            xs, ys, lo, hi = series(kind, col)
            if len(xs):
                ax.plot(xs, ys, label=label, color=color, marker="o" if kind == "eval" else None, ms=3)
                if np.any(hi > lo):
                    ax.fill_between(xs, lo, hi, color=color, alpha=0.2)
        ax.set_xlabel("env steps (per seed)")
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        path = self.run_dir / "learning_curve.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def progress_bar(total: int, initial: int, enabled: bool):
    """A tqdm bar over env steps (per seed); a no-op object when disabled."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", unit_scale=True, dynamic_ncols=True, smoothing=0.3)


class _NoBar:
    def update(self, n):
        pass

    def set_postfix(self, *a, **k):
        pass

    def write(self, s):
        print(s, flush=True)

    def close(self):
        pass
