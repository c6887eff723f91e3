"""A study CSV (columns skill, seed, env_steps, success; what the guthrie_* scripts write) as a markdown
table: per skill and env-step budget, the mean eval success over seeds with a 95% confidence interval
(Student t, n - 1 degrees of freedom, clipped to [0, 1]) and the seeds' [min, max].

    python experiments/study_table.py docs/results/<study>/<recipe>/<study>.csv --steps 8k,48k,104k
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict

from scipy import stats


def parse_steps(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        mult = 1_000_000 if part.endswith("m") else 1_000 if part.endswith("k") else 1
        out.append(int(float(part.rstrip("mk")) * mult))
    return out


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t interval of the mean, clipped to [0, 1]; (m, m, m) for 1 value."""
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, m, m
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return m, max(0.0, m - half), min(1.0, m + half)


def table(rows: list[dict], steps: list[int]) -> str:
    by: dict[tuple[str, int], list[float]] = defaultdict(list)
    skills: list[str] = []
    for r in rows:
        if r["skill"] not in skills:
            skills.append(r["skill"])
        by[r["skill"], int(r["env_steps"])].append(float(r["success"]))
    head = "| skill | " + " | ".join(f"{s // 1000}k" if s % 1000 == 0 else str(s) for s in steps) + " |"
    lines = [head, "|---|" + "---|" * len(steps)]
    for skill in skills:
        cells = []
        for s in steps:
            v = by.get((skill, s))
            if not v:
                cells.append("-")
                continue
            m, lo, hi = mean_ci(v)
            cells.append(f"{m:.2f} ({lo:.2f}-{hi:.2f}) [{min(v):.1f}, {max(v):.1f}]")
        lines.append(f"| {skill} | " + " | ".join(cells) + " |")
    n = {len(v) for v in by.values()}
    lines.append("")
    lines.append(f"mean over {'/'.join(map(str, sorted(n)))} seeds, (95% t-interval), [min, max] of the seeds")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv")
    p.add_argument("--steps", required=True, help="comma-separated env-step budgets, e.g. 8k,48k,104k")
    args = p.parse_args(argv)
    with open(args.csv) as f:
        rows = list(csv.DictReader(f))
    print(table(rows, parse_steps(args.steps)))


if __name__ == "__main__":
    main()
