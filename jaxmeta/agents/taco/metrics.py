"""TaCo transfer metrics of paper 002 Sec. V-B, read from a run's metrics.csv (host side, no JAX).

    m = transfer_metrics(run_dir, threshold=0.9, n_max=6_000_000)     # {"n", "alpha", "cost", ...}
    relative_transfer_cost(m_transfer, m_scratch)

``n`` = env steps to reach an evaluation success rate >= ``threshold`` (0.9; before ``n_max``),
``alpha`` = transfer success (fraction of seeds that reach it), relative transfer cost
``(n_transfer / alpha_transfer) / (n_scratch / alpha_scratch)`` (lower is better; 1 = no gain). ``n``
is averaged over the seeds that succeed (paper Fig. 6(a) uses only successfully trained runs);
``alpha = 0`` gives an infinite cost. Runs: `jaxmeta.agents.taco.transfer`.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

__all__ = ["relative_transfer_cost", "steps_to_success", "transfer_metrics"]


def _eval_rows(run: str | os.PathLike | Iterable[Mapping]) -> list[Mapping]:
    if isinstance(run, (str, os.PathLike)):
        path = Path(run)
        path = path / "metrics.csv" if path.is_dir() else path
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = list(run)
    return [r for r in rows if r.get("kind", "eval") == "eval" and str(r.get("eval_success", "")) not in ("", "nan")]


def steps_to_success(run, threshold: float = 0.9, n_max: int | None = None) -> dict[int, int | None]:
    """Per seed: the first evaluated env-step count with ``eval_success >= threshold`` (and
    ``<= n_max`` if given), or None. ``run``: a run directory, a metrics.csv path, or row dicts with
    ``seed``, ``env_steps``, ``eval_success`` (``kind`` rows other than "eval" are skipped)."""
    first: dict[int, int | None] = {}
    for r in sorted(_eval_rows(run), key=lambda r: (int(r.get("seed", 0)), int(float(r["env_steps"])))):
        s, n, succ = int(r.get("seed", 0)), int(float(r["env_steps"])), float(r["eval_success"])
        first.setdefault(s, None)
        if first[s] is None and succ >= threshold and (n_max is None or n <= n_max):
            first[s] = n
    return first


def transfer_metrics(run, threshold: float = 0.9, n_max: int | None = None) -> dict:
    """Paper 002's metrics of one (multi-seed) run: ``n`` (mean env steps to ``threshold`` over the
    seeds that reach it, None if none), ``alpha`` (fraction of seeds that reach it), ``cost`` =
    ``n / alpha`` (inf if alpha = 0), ``per_seed`` (`steps_to_success`)."""
    per_seed = steps_to_success(run, threshold, n_max)
    if not per_seed:
        raise ValueError("no evaluation rows")
    hits = [n for n in per_seed.values() if n is not None]
    alpha = len(hits) / len(per_seed)
    n = float(np.mean(hits)) if hits else None
    return {
        "n": n,
        "alpha": alpha,
        "cost": (n / alpha) if hits else math.inf,
        "per_seed": per_seed,
        "threshold": threshold,
        "n_max": n_max,
    }


def relative_transfer_cost(transfer: Mapping, scratch: Mapping) -> float:
    """``(n_transfer / alpha_transfer) / (n_scratch / alpha_scratch)`` from two `transfer_metrics`
    dicts (lower is better; 1 = no gain). inf if the transfer never succeeds; 0 if only scratch fails."""
    ct, cs = float(transfer["cost"]), float(scratch["cost"])
    if math.isinf(ct):
        return math.inf
    if math.isinf(cs):
        return 0.0
    return ct / cs
