"""Run logging: metrics.csv (one row per chunk and seed, plus evaluation rows), the same scalars as
TensorBoard event files (and, optionally, on Weights & Biases), summary.json, a learning-curve PNG
(matplotlib, Agg) and a tqdm progress bar.

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

TensorBoard (`jaxmeta.tensorboard`, no TensorFlow needed): one run per seed, ``<run>/tb/seed_<i>/``; every
number of a metrics.csv row (empty and non-finite cells excepted) is the scalar ``<kind>/<column>``
(``train/episode_success``, ``eval/eval_success/<skill>``, ...) at step ``env_steps``, except the row
keys `ROW_KEYS`. A resumed run appends a new event file per seed that drops, in TensorBoard, the steps
after its checkpoint (as metrics.csv drops those rows). `WandbLog` sends the same scalars (prefixed
``seed_<i>/`` when the run has several seeds) and the run's config to Weights & Biases.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from jaxmeta.checkpoint import TB_DIR, WANDB_ID_FILE
from jaxmeta.learner import PEARL_SCALARS, PPO_SCALARS, SAC_SCALARS
from jaxmeta.tensorboard import EventWriter

TIMING_COLUMNS = ("wall_s", "env_sps")
TRAIN_COLUMNS = (
    ("episodes", "finished", "episode_success", "episode_return", "reward")
    + SAC_SCALARS
    + (
        "per_beta",
        "per_weight_min",
        "paco_num_masked",
        "paco_total_resets",
        "taco_p_min",
        "taco_p_max",
        "taco_num_groups",
        "taco_exploring",
        "physics_nan",
        "nonfinite_action",
        "nonfinite_transition",
        "nonfinite_update",
    )
    + PPO_SCALARS
    + PEARL_SCALARS
)
EVAL_COLUMNS = ("eval_success", "eval_return")
ROW_KEYS = ("kind", "chunk", "seed", "env_steps")  # metrics.csv columns that identify a row, not scalars


def nanmean(x: Any) -> float:
    """Mean of the non-NaN entries of `x`; NaN (without numpy's "Mean of empty slice" RuntimeWarning)
    when there is none, e.g. the episode success of a chunk in which no episode finished."""
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def _real(v: Any) -> float | None:
    """A metrics.csv cell as a finite float; None for an empty, missing or non-finite one."""
    if v is None or (isinstance(v, str) and not v):
        return None
    f = float(np.asarray(v, dtype=np.float64))
    return f if math.isfinite(f) else None


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


class MetricsFileError(ValueError):
    """A metrics.csv a resume cannot continue (named, with what to do)."""


class MetricsLog:
    """Appends rows to ``<run>/metrics.csv`` and their scalars to ``<run>/tb/`` (and W&B); writes
    summary.json and learning_curve.png. `close` when the run stops logging."""

    def __init__(
        self,
        run_dir: str | os.PathLike,
        skills: Iterable[str],
        skill_ids: Iterable[int] | None = None,
        extra_evals: Mapping[str, Iterable[str]] | None = None,
        wandb: WandbLog | None = None,
        writer: bool = True,
    ):
        """skills: the env skills (eval ``success_per_skill`` order). skill_ids: index of each skill in the
        per-skill train metrics (default 0..n-1; a larger conditioning skill space otherwise).
        extra_evals: {name: skills} of extra evaluations logged in the eval rows. wandb: also log the
        scalars there (finished by `close`). writer=False: read only (a multi-process run's processes other
        than process 0): start, the log_* calls, write_summary and plot write nothing."""
        self.run_dir = Path(run_dir)
        self.writer = writer
        self.wandb = wandb
        self._tb: dict[int, EventWriter] = {}
        self._purge_step: int | None = None
        self.skills = tuple(skills)
        self.skill_ids = tuple(range(len(self.skills))) if skill_ids is None else tuple(skill_ids)
        self.extra = {k: tuple(v) for k, v in (extra_evals or {}).items()}
        self.path = self.run_dir / "metrics.csv"
        extra_cols = tuple(
            c
            for name, sk in self.extra.items()
            for c in (f"{name}_success", f"{name}_return") + tuple(f"{name}_success/{s}" for s in sk)
        )
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
        if not self.writer:
            return
        if resume_chunk is None or not self.path.exists():
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)
            return
        rows = [r for r in self._read_for_resume() if int(r["chunk"]) <= resume_chunk]
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, self.columns, restval="", extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        self._purge_step = 1 + max((int(r["env_steps"]) for r in rows), default=-1)

    def check_resumable(self) -> None:
        """Raise `MetricsFileError` now (before a resume compiles) if `start` could not continue the file."""
        if self.path.exists():
            self._read_for_resume()

    def _read_for_resume(self) -> list[dict]:
        """The rows of an interrupted run's metrics.csv. A short last row (a write cut off by a kill; it
        belongs to a chunk after the checkpoint) is dropped; any other damage is a `MetricsFileError`
        naming the file and line, and the file is left as it is."""
        what = "move it away to resume with a metrics.csv that starts at the checkpoint, or repair that line"
        try:
            with self.path.open(newline="") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                lines = list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise MetricsFileError(f"{str(self.path)!r} is unreadable ({type(e).__name__}: {e}); {what}") from e
        if header is None:
            return []
        missing = [k for k in ROW_KEYS if k not in header]
        if missing:
            raise MetricsFileError(f"{str(self.path)!r} has a corrupt header (no {', '.join(missing)} column); {what}")
        rows = []
        for n, cells in enumerate(lines, start=2):
            if not cells:
                continue
            if len(cells) != len(header):
                if n == len(lines) + 1 and len(cells) < len(header):
                    continue  # torn last row
                raise MetricsFileError(
                    f"{str(self.path)!r} line {n} has {len(cells)} cells, the header {len(header)}; {what}"
                )
            r = dict(zip(header, cells))
            try:
                int(r["chunk"]), int(r["seed"]), int(r["env_steps"])
            except ValueError:
                if n == len(lines) + 1:
                    continue
                raise MetricsFileError(
                    f"{str(self.path)!r} line {n} is corrupt (chunk {r['chunk']!r}, seed "
                    f"{r['seed']!r}, env_steps {r['env_steps']!r}); {what}"
                ) from None
            rows.append(r)
        return rows

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))

    def _append(self, rows: list[dict]) -> None:
        if not self.writer:
            return
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, self.columns, restval="", extrasaction="ignore")
            for r in rows:
                w.writerow({k: (v if isinstance(v, str) else _fmt(v)) for k, v in r.items()})
        for r in rows:
            seed, step = int(r["seed"]), int(r["env_steps"])
            scalars = {
                f"{r['kind']}/{k}": v for k in self.columns if k not in ROW_KEYS and (v := _real(r.get(k))) is not None
            }
            if seed not in self._tb:
                self._tb[seed] = EventWriter(self.run_dir / TB_DIR / f"seed_{seed}", purge_step=self._purge_step)
            for tag, v in scalars.items():
                self._tb[seed].add_scalar(tag, v, step)
            if self.wandb is not None:
                self.wandb.log(seed, step, scalars)
        for writer in self._tb.values():
            writer.flush()

    def close(self) -> None:
        """Close the event files (and finish the W&B run); metrics.csv, summary and plot still work."""
        for writer in self._tb.values():
            writer.close()
        self._tb.clear()
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None

    def log_train(self, chunk: int, metrics: Mapping[str, np.ndarray], wall_s: float, env_sps: float) -> None:
        """metrics: host arrays with a leading seed axis (S, ...)."""
        S = np.shape(metrics["env_steps"])[0]
        rows = []
        for s in range(S):
            r = {"kind": "train", "chunk": chunk, "seed": s, "wall_s": wall_s, "env_sps": env_sps}
            for k in ("env_steps", "updates") + TRAIN_COLUMNS:
                if k in metrics:
                    r[k] = metrics[k][s]
            per_skill = metrics.get("episode_success_per_skill")
            if per_skill is not None:
                for t, name in zip(self.skill_ids, self.skills):
                    r[f"train_success/{name}"] = per_skill[s][t]
            rows.append(r)
        self._append(rows)

    def log_eval(
        self,
        chunk: int,
        env_steps: np.ndarray,
        updates: np.ndarray,
        ev: Mapping[str, np.ndarray],
        wall_s: float,
        extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ) -> None:
        S = np.shape(ev["success"])[0]
        rows = []
        for s in range(S):
            r = {
                "kind": "eval",
                "chunk": chunk,
                "seed": s,
                "env_steps": env_steps[s],
                "updates": updates[s],
                "wall_s": wall_s,
                "eval_success": ev["success"][s],
                "eval_return": ev["return"][s],
            }
            for t, name in enumerate(self.skills):
                r[f"eval_success/{name}"] = ev["success_per_skill"][s][t]
            for name, e in (extra or {}).items():
                r[f"{name}_success"], r[f"{name}_return"] = e["success"][s], e["return"][s]
                for t, sk in enumerate(self.extra[name]):
                    r[f"{name}_success/{sk}"] = e["success_per_skill"][s][t]
            rows.append(r)
        self._append(rows)

    # ------------------------------------------------------------------------------------ summary
    def write_summary(self, summary: dict) -> None:
        if not self.writer:
            return
        tmp = self.run_dir / "summary.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2, default=_json_default))
        tmp.replace(self.run_dir / "summary.json")

    # ------------------------------------------------------------------------------------- curves
    def plot(self, title: str = "") -> Path | None:
        """learning_curve.png: eval success (mean over seeds, min-max band) and train episode success
        vs env steps. Returns the path (None if there is nothing to plot, or writer=False)."""
        if not self.writer:
            return None
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
        curves = [
            ("train", "episode_success", "train episodes (stochastic)", "tab:gray"),
            ("eval", "eval_success", "eval (deterministic)", "tab:blue"),
        ]
        colors = iter(("tab:red", "tab:green", "tab:purple", "tab:olive"))
        curves += [
            ("eval", f"{name}_success", f"eval on {name} tasks (forgetting)", next(colors, "k")) for name in self.extra
        ]
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


def import_wandb():
    """The `wandb` module (imported on first use); ImportError naming the package when it is missing."""
    try:
        import wandb
    except ImportError as e:
        raise ImportError(
            "logging to Weights & Biases (--wandb) needs the wandb package, which is not installed: pip install wandb"
        ) from e
    return wandb


class WandbLog:
    """A Weights & Biases run of a run directory: project ``$WANDB_PROJECT`` (default "jaxmeta"), named
    after the directory, config = the TrainConfig dict (as summary.json's "config"), local files in
    ``<run>/wandb/``. ``WANDB_MODE=offline`` (read by wandb) logs without network or account (upload
    later with ``wandb sync``). The W&B run id is kept in ``<run>/wandb_run_id``, so a resumed run
    continues the same W&B run; W&B ignores (with a warning) the steps the interrupted process had
    already logged after its last checkpoint."""

    def __init__(self, run_dir: str | os.PathLike, config: Mapping[str, Any], resume: bool = False):
        wandb = import_wandb()
        run_dir = Path(run_dir)
        id_path = run_dir / WANDB_ID_FILE
        run_id = id_path.read_text().strip() if resume and id_path.is_file() else None
        self.num_seeds = int(config.get("num_seeds", 1))
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "jaxmeta"),
            name=run_dir.name,
            dir=str(run_dir),
            config=dict(config),
            id=run_id,
            resume="allow" if run_id else None,
        )
        id_path.write_text(self.run.id)

    def log(self, seed: int, step: int, scalars: Mapping[str, float]) -> None:
        prefix = f"seed_{seed}/" if self.num_seeds > 1 else ""
        self.run.log({prefix + k: v for k, v in scalars.items()}, step=step)

    def finish(self) -> None:
        self.run.finish()


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
