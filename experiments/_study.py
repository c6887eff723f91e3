"""Shared helpers of the paper study scripts (experiments/guthrie_*.py, mandi_*.py).

Every study: ``--preset small`` (a 2-core CPU in minutes: toy env / MT1 reach-v3 / ML1 reach-v3) or
``--preset full`` (the paper's setting; a GPU, and every skill it needs ported to MJX), ``--out DIR``
(default ``experiments/results/<study>-<preset>``), writes ``<study>.csv`` and ``<study>.png`` there plus
the run directories of every training / fine-tuning job (metrics.csv, summary.json, ...).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import jaxmeta  # noqa: E402,F401  (XLA CPU flag before JAX)
from envs._runtime import enable_compilation_cache  # noqa: E402

TOY_SMALL = dict(  # toy point-reach: ~100 % success after ~30k env steps, seconds per run once compiled
    envs_per_skill=4,
    max_path_length=20,
    warmup_steps=320,
    chunk_steps=2_000,
    batch_size=64,
    buffer_capacity=60_000,
    updates_per_step=2,
    eval_episodes=10,
    checkpoint_every=0,
    network=dict(hidden=(32, 32)),
)


def parser(name: str, doc: str, presets: tuple[str, ...] = ("small", "full")) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=name, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=list(presets), default="small")
    p.add_argument("--out", help="output folder (default experiments/results/<study>-<preset>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fresh", action="store_true", help="delete the output folder first")
    return p


def out_dir(args, name: str) -> Path:
    out = Path(args.out) if args.out else HERE / "results" / f"{name}-{args.preset}"
    if args.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    enable_compilation_cache()
    return out


def train_run(cfg, log=print) -> dict:
    """Train (or reuse a finished run of the same configuration in cfg.out); returns its summary."""
    import json

    from jaxmeta.config import TrainConfig
    from jaxmeta.driver import train

    summ = Path(cfg.out) / "summary.json"
    if summ.is_file() and json.loads(summ.read_text()).get("completed"):
        saved = TrainConfig.from_dict(json.loads((Path(cfg.out) / "config.json").read_text()))
        if saved.replace(out=cfg.out) != cfg:
            raise ValueError(
                f"{cfg.out} holds a finished run of another configuration (its config.json); "
                "pass --fresh or another --out"
            )
        return json.loads(summ.read_text())
    return train(cfg, overwrite=Path(cfg.out).exists(), progress=False, log=log)


def finetune_run(source: str, log=print, **kw) -> dict:
    import json

    from jaxmeta.finetune import finetune, finetune_config

    summ = Path(kw["out"]) / "summary.json"
    if summ.is_file() and json.loads(summ.read_text()).get("completed"):
        return json.loads(summ.read_text())
    cfg = finetune_config(source, **kw)
    return finetune(cfg, overwrite=Path(kw["out"]).exists(), progress=False, log=log)


def eval_curve(run_dir: str | Path, col: str = "eval_success") -> list[tuple[int, float]]:
    """[(env_steps, value)] of a run's eval rows (mean over seeds)."""
    import numpy as np

    with (Path(run_dir) / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "eval" and r.get(col, "") not in ("", "nan")]
    by: dict[int, list[float]] = {}
    for r in rows:
        by.setdefault(int(r["env_steps"]), []).append(float(r[col]))
    return [(k, float(np.mean(v))) for k, v in sorted(by.items())]


def write_csv(path: Path, rows: list[dict]) -> Path:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path} ({len(rows)} rows)")
    return path


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as p

    return p


def eval_rows(run_dir: str | Path) -> list[dict]:
    """Every eval row of a run as {seed, env_steps, wall_s, success}: one row per seed and evaluation."""
    with (Path(run_dir) / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "eval" and r.get("eval_success", "") not in ("", "nan")]
    return [
        {
            "seed": int(r.get("seed") or 0),
            "env_steps": int(r["env_steps"]),
            "wall_s": round(float(r["wall_s"]), 1),
            "success": float(r["eval_success"]),
        }
        for r in rows
    ]


def plot_seed_band(ax, rows: list[dict], label: str, key: str = "success"):
    """Mean over seeds against env steps, with the seeds' min-max range shaded."""
    import numpy as np

    by: dict[int, list[float]] = {}
    for r in rows:
        by.setdefault(int(r["env_steps"]), []).append(float(r[key]))
    xs = sorted(by)
    if not xs:
        return
    ys = [np.asarray(by[x]) for x in xs]
    (line,) = ax.plot(xs, [y.mean() for y in ys], marker="o", ms=3, label=label)
    if max(len(y) for y in ys) > 1:
        ax.fill_between(xs, [y.min() for y in ys], [y.max() for y in ys], color=line.get_color(), alpha=0.2)
