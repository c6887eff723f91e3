"""Benchmark names as a run's config gives them: the skills of a name's split (`benchmark_skills`, the
pure-JAX ``toy/<n>`` included, without building anything), whether every one is ported to MJX
(`check_ported`), and the validation of task-row selections (``task_indices``: rand_vec rows of every
skill's task set)."""

from __future__ import annotations

import numbers
import re
from typing import Any

__all__ = ["SPLIT_NAMES", "benchmark_skills", "check_ported"]


_TOY = re.compile(r"^toy/(\d+)$")


SPLIT_NAMES = ("train", "test")


def benchmark_skills(name: str, split: str = "train") -> tuple[str, ...]:
    """Skills of a benchmark name's ``split`` ("train" or "test"), without building it (no metaworld
    import). Test splits: ML1/<skill> -> (skill,) (held-out instances), ML10/ML25/ML45 -> the held-out
    skills, ``toy/<n>`` -> the n next toy skills ``toy-n .. toy-(2n-1)`` (new skills, as in toy/<2n>).
    MT benchmarks have no test split.

    Raises ValueError (envs.benchmarks' message, listing the valid names) for an unknown name.
    """
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
    m = _TOY.match(name) if isinstance(name, str) else None
    if m:
        n = int(m.group(1))
        if n < 1:
            raise ValueError(f"toy benchmark needs >= 1 skill, got {name!r}")
        return tuple(f"toy-{i}" for i in (range(n) if split == "train" else range(n, 2 * n)))
    if isinstance(name, str) and name.startswith("toy"):
        raise ValueError(f"toy benchmark names are 'toy/<num_skills>', e.g. 'toy/2'; got {name!r}")
    from envs.benchmarks import benchmark_skill_names, parse_benchmark_name

    try:
        parse_benchmark_name(name)
    except ValueError as e:
        raise ValueError(f"{e} (or 'toy/<n>' for the pure-JAX test env)") from None
    return benchmark_skill_names(name, split)


def check_ported(name: str, split: str = "train") -> None:
    """Raise ValueError if a skill of benchmark `name`'s `split` has no MJX port yet (cheap: imports
    the skill modules only, builds nothing)."""
    if name.startswith("toy/"):
        return
    from envs.skills import ported_skills

    ported = ported_skills()
    missing = [s for s in benchmark_skills(name, split) if s not in ported]
    if missing:
        what = f"benchmark {name!r}" + ("" if split == "train" else f" ({split} split)")
        raise ValueError(f"{what} needs skill(s) {missing} not ported to MJX yet; ported: {sorted(ported)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _int_tuple(v: Any, name: str) -> tuple[int, ...] | None:
    if v is None:
        return None
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise ValueError(f"{name} must be a sequence of ints or None, got {v!r}")
    t = tuple(v)
    if not t or not all(_is_int(i) and i >= 0 for i in t) or len(set(t)) != len(t):
        raise ValueError(f"{name} must be a non-empty sequence of distinct non-negative ints, got {v!r}")
    return tuple(int(i) for i in t)
