"""Several run directories of one recipe (one seed each, or several vmapped seeds) as one study: a CSV
(columns skill, seed, env_steps, wall_s, success; skill "mean" is the mean over skills), the markdown
table of `study_table.py` at the chosen env-step budgets (mean over seeds, 95% t-interval, [min, max]),
and a PNG of the mean eval success with the seeds' min-max range shaded, plus one panel per skill.

    python experiments/runs_table.py RUN_DIR [RUN_DIR ...] --steps 400k,800k,1.2M,1.6M --out docs/results/<study>

A run directory's seed i is numbered by its config's ``seed`` (+ i for vmapped seeds), so runs launched
with ``--seed 0``, ``--seed 1``, ... stay apart.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _study import plot_seed_band, plt, write_csv  # noqa: E402
from study_table import parse_steps, table  # noqa: E402


def run_rows(run_dir: str | Path) -> list[dict]:
    """The eval rows of one run directory: per seed and evaluation, the mean and per-skill success."""
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.csv").is_file():
        raise SystemExit(f"runs_table: {str(run_dir)!r} has no metrics.csv (not a jaxmeta run directory)")
    base = json.loads((run_dir / "config.json").read_text()).get("seed", 0)
    out = []
    with (run_dir / "metrics.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if r["kind"] != "eval" or r.get("eval_success", "") in ("", "nan"):
                continue
            common = {"seed": base + int(r["seed"]), "env_steps": int(r["env_steps"]), "wall_s": float(r["wall_s"])}
            out.append({"skill": "mean", **common, "success": float(r["eval_success"])})
            for k, v in r.items():
                if k.startswith("eval_success/") and v not in ("", "nan"):
                    out.append({"skill": k.split("/", 1)[1], **common, "success": float(v)})
    return out


def plot(rows: list[dict], path: Path, title: str) -> Path:
    skills = [s for s in dict.fromkeys(r["skill"] for r in rows) if s != "mean"]
    p = plt()
    cols = 4
    n_rows = 1 + -(-len(skills) // cols)
    fig = p.figure(figsize=(3.2 * cols, 2.4 * n_rows + 1.0))
    ax = fig.add_subplot(n_rows, 1, 1)
    plot_seed_band(ax, [r for r in rows if r["skill"] == "mean"], "mean over skills")
    ax.set(title=title, xlabel="env steps", ylabel="eval success", ylim=(-0.05, 1.05))
    ax.legend(loc="lower right")
    for i, skill in enumerate(skills):
        a = fig.add_subplot(n_rows, cols, cols + i + 1)
        plot_seed_band(a, [r for r in rows if r["skill"] == skill], skill)
        a.set_title(skill, fontsize=9)
        a.set_ylim(-0.05, 1.05)
        a.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    p.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories (metrics.csv, config.json)")
    p.add_argument("--steps", required=True, help="comma-separated env-step budgets, e.g. 400k,800k,1.2M")
    p.add_argument("--out", required=True, help="folder for runs.csv and learning_curve.png")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    steps = parse_steps(args.steps)
    rows = [r for run in args.runs for r in run_rows(run)]
    seeds = sorted({r["seed"] for r in rows})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "runs.csv", rows)
    plot(rows, out / "learning_curve.png", args.title or f"{len(seeds)} seeds: {', '.join(map(str, seeds))}")
    order = ["mean"] + [s for s in dict.fromkeys(r["skill"] for r in rows) if s != "mean"]
    print(table(sorted(rows, key=lambda r: order.index(r["skill"])), steps))
    walls = {}
    for r in rows:
        if r["skill"] == "mean":
            walls.setdefault(r["env_steps"], []).append(r["wall_s"])
    print(
        "\nwall time at each evaluation (s, per seed): "
        + "; ".join(f"{s // 1000}k: {', '.join(f'{w:.0f}' for w in walls[s])}" for s in steps if s in walls)
    )


if __name__ == "__main__":
    main()
