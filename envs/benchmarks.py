"""Meta-World benchmark task sets (MT1/MT10/MT25/MT50, ML1/ML10/ML25/ML45), taken from metaworld itself.

`benchmark(name, seed)` calls metaworld's own benchmark class (``metaworld.MT10(seed=seed)``, ...) and
decodes every ``Task.data`` pickle, so the rand_vecs are bitwise identical to metaworld's for the same seed.
The skill lists below are hard-coded (importing this module does not import metaworld) and are checked
against ``metaworld.env_dict`` in ``tests/envs/test_benchmarks.py``.

Metaworld semantics worth knowing (metaworld 3.1.1, ``metaworld/__init__.py::_make_tasks``):

* One ``np.random.seed(seed)`` for the whole benchmark, then the skills are generated *in the benchmark's
  order* from the same stream (50 resets of a fresh env per skill, ``_last_rand_vec`` recorded after each).
  So a skill's rand_vecs depend on which benchmark it is in and on its position: MT10's ``reach-v3`` (first)
  equals ``MT1/reach-v3`` for the same seed, but MT10's ``push-v3`` differs from ``MT1/push-v3``.
  The global numpy RNG state is saved and restored around the generation when ``seed`` is an int.
* ``seed=None`` in metaworld draws from (and advances) the *global* ``np.random`` state: not reproducible.
  This module therefore requires an int seed (so results can be cached per ``(name, seed)``).
* ``ML1(skill, seed)`` uses ``seed + 1`` for its test tasks (so ``ML1/x`` test rand_vecs equal ``MT1/x``
  train rand_vecs of ``seed + 1``); ML10/ML25/ML45 use the *same* seed for train and test, the test skills
  being a different skill list.
* MT1's test set is empty; ML1's train and test skill is the same single skill.
* ML25 has ``basketball-v3`` in both its train and test skill lists (metaworld's data, kept as is).
* ``partially_observable`` is stored in every task pickle: ``False`` for MT benchmarks (goal in obs[36:39]),
  ``True`` for ML benchmarks (obs[36:39] zeroed). It is read back from the pickles, not assumed.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle

import numpy as np

# metaworld.env_dict.ALL_V3_ENVIRONMENTS order (= MT50 order).
ALL_SKILLS: tuple[str, ...] = (
    "assembly-v3",
    "basketball-v3",
    "bin-picking-v3",
    "box-close-v3",
    "button-press-topdown-v3",
    "button-press-topdown-wall-v3",
    "button-press-v3",
    "button-press-wall-v3",
    "coffee-button-v3",
    "coffee-pull-v3",
    "coffee-push-v3",
    "dial-turn-v3",
    "disassemble-v3",
    "door-close-v3",
    "door-lock-v3",
    "door-open-v3",
    "door-unlock-v3",
    "hand-insert-v3",
    "drawer-close-v3",
    "drawer-open-v3",
    "faucet-open-v3",
    "faucet-close-v3",
    "hammer-v3",
    "handle-press-side-v3",
    "handle-press-v3",
    "handle-pull-side-v3",
    "handle-pull-v3",
    "lever-pull-v3",
    "pick-place-wall-v3",
    "pick-out-of-hole-v3",
    "pick-place-v3",
    "plate-slide-v3",
    "plate-slide-side-v3",
    "plate-slide-back-v3",
    "plate-slide-back-side-v3",
    "peg-insert-side-v3",
    "peg-unplug-side-v3",
    "soccer-v3",
    "stick-push-v3",
    "stick-pull-v3",
    "push-v3",
    "push-wall-v3",
    "push-back-v3",
    "reach-v3",
    "reach-wall-v3",
    "shelf-place-v3",
    "sweep-into-v3",
    "sweep-v3",
    "window-open-v3",
    "window-close-v3",
)

MT10_SKILLS: tuple[str, ...] = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)

MT25_SKILLS: tuple[str, ...] = MT10_SKILLS + (
    "coffee-pull-v3",
    "pick-out-of-hole-v3",
    "disassemble-v3",
    "pick-place-wall-v3",
    "basketball-v3",
    "stick-pull-v3",
    "button-press-wall-v3",
    "faucet-open-v3",
    "door-lock-v3",
    "lever-pull-v3",
    "sweep-into-v3",
    "faucet-close-v3",
    "coffee-button-v3",
    "button-press-topdown-wall-v3",
    "dial-turn-v3",
)

MT50_SKILLS: tuple[str, ...] = ALL_SKILLS

ML10_TRAIN_SKILLS: tuple[str, ...] = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "sweep-v3",
    "basketball-v3",
)
ML10_TEST_SKILLS: tuple[str, ...] = (
    "drawer-open-v3",
    "door-close-v3",
    "shelf-place-v3",
    "sweep-into-v3",
    "lever-pull-v3",
)

ML25_TRAIN_SKILLS: tuple[str, ...] = MT25_SKILLS
ML25_TEST_SKILLS: tuple[str, ...] = (
    "basketball-v3",  # sic: also a train skill in metaworld 3.1.1
    "door-close-v3",
    "shelf-place-v3",
    "sweep-v3",
    "button-press-v3",
)

ML45_TRAIN_SKILLS: tuple[str, ...] = (
    "assembly-v3",
    "basketball-v3",
    "button-press-topdown-v3",
    "button-press-topdown-wall-v3",
    "button-press-v3",
    "button-press-wall-v3",
    "coffee-button-v3",
    "coffee-pull-v3",
    "coffee-push-v3",
    "dial-turn-v3",
    "disassemble-v3",
    "door-close-v3",
    "door-open-v3",
    "drawer-close-v3",
    "drawer-open-v3",
    "faucet-open-v3",
    "faucet-close-v3",
    "hammer-v3",
    "handle-press-side-v3",
    "handle-press-v3",
    "handle-pull-side-v3",
    "handle-pull-v3",
    "lever-pull-v3",
    "pick-place-wall-v3",
    "pick-out-of-hole-v3",
    "push-back-v3",
    "pick-place-v3",
    "plate-slide-v3",
    "plate-slide-side-v3",
    "plate-slide-back-v3",
    "plate-slide-back-side-v3",
    "peg-insert-side-v3",
    "peg-unplug-side-v3",
    "soccer-v3",
    "stick-push-v3",
    "stick-pull-v3",
    "push-wall-v3",
    "push-v3",
    "reach-wall-v3",
    "reach-v3",
    "shelf-place-v3",
    "sweep-into-v3",
    "sweep-v3",
    "window-open-v3",
    "window-close-v3",
)
ML45_TEST_SKILLS: tuple[str, ...] = (
    "bin-picking-v3",
    "box-close-v3",
    "hand-insert-v3",
    "door-lock-v3",
    "door-unlock-v3",
)

# name -> (train skills, test skills), in metaworld's order
SPLITS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "MT10": (MT10_SKILLS, ()),
    "MT25": (MT25_SKILLS, ()),
    "MT50": (MT50_SKILLS, ()),
    "ML10": (ML10_TRAIN_SKILLS, ML10_TEST_SKILLS),
    "ML25": (ML25_TRAIN_SKILLS, ML25_TEST_SKILLS),
    "ML45": (ML45_TRAIN_SKILLS, ML45_TEST_SKILLS),
}

N_TASKS_PER_SKILL = 50  # metaworld._N_GOALS

BENCHMARK_NAMES: tuple[str, ...] = (
    "MT1/<skill>",
    "ML1/<skill>",
    "MT10",
    "MT25",
    "MT50",
    "ML10",
    "ML25",
    "ML45",
)


@dataclasses.dataclass(frozen=True, eq=False)
class Benchmark:
    """A benchmark's task sets, as metaworld generated them for ``seed``.

    ``train_tasks[skill]`` / ``test_tasks[skill]``: ``(n_tasks, rand_vec_dim)`` float64, read-only, in
    metaworld's task order (``n_tasks`` = 50; ``rand_vec_dim`` is 3 or 6 depending on the skill).
    Identity equality / hashing (``eq=False``), so an instance can be a static argument to ``jax.jit``.
    """

    name: str
    seed: int
    train_skills: tuple[str, ...]
    test_skills: tuple[str, ...]
    train_tasks: dict[str, np.ndarray]
    test_tasks: dict[str, np.ndarray]
    partially_observable: bool

    @property
    def skills(self) -> tuple[str, ...]:
        """Train skills then test skills, without duplicates (ML25 lists basketball-v3 in both)."""
        return tuple(dict.fromkeys(self.train_skills + self.test_skills))

    def task_index(self, skill: str) -> int:
        """Position of ``skill`` in ``skills`` (the task id used for one-hot task conditioning)."""
        try:
            return self.skills.index(skill)
        except ValueError:
            raise ValueError(f"{skill!r} is not in benchmark {self.name}; its skills are {self.skills}") from None

    @property
    def num_train_tasks(self) -> int:
        return sum(len(v) for v in self.train_tasks.values())

    @property
    def num_test_tasks(self) -> int:
        return sum(len(v) for v in self.test_tasks.values())

    @property
    def num_skills(self) -> int:
        """Total number of (skill, rand_vec) tasks, train + test."""
        return self.num_train_tasks + self.num_test_tasks

    def tasks(self, split: str = "train") -> dict[str, np.ndarray]:
        if split == "train":
            return self.train_tasks
        if split == "test":
            return self.test_tasks
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def parse_benchmark_name(name: str) -> tuple[str, str | None]:
    """Validate a benchmark name without touching metaworld: ("MT10", None), ("ML1", "reach-v3"), ...;
    ValueError listing the valid names otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"benchmark name must be a str, got {name!r}; valid names: {', '.join(BENCHMARK_NAMES)}")
    if name in SPLITS:
        return name, None
    for kind in ("MT1", "ML1"):
        if name.startswith(kind + "/"):
            skill = name[len(kind) + 1 :]
            if skill not in ALL_SKILLS:
                raise ValueError(
                    f"unknown skill {skill!r} in benchmark name {name!r}; valid skills: {', '.join(ALL_SKILLS)}"
                )
            return kind, skill
    raise ValueError(f"unknown benchmark {name!r}; valid names: {', '.join(BENCHMARK_NAMES)}")


def benchmark_skill_names(name: str, split: str = "train") -> tuple[str, ...]:
    """Skills of benchmark `name`'s ``split`` without building it (no metaworld import): ML1/<skill> and
    MT1/<skill> -> (skill,), ML10 / ML45 test -> the held-out skills. ValueError naming the bad value for an
    unknown name, a split other than train / test, or the test split of an MT benchmark."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    kind, skill = parse_benchmark_name(name)
    if split == "test" and kind.startswith("MT"):
        raise ValueError(
            f"benchmark {name!r} has no test split (MT benchmarks); held-out tasks: ML1/<skill>, ML10, ..."
        )
    if skill is not None:
        return (skill,)
    return tuple(SPLITS[kind][0 if split == "train" else 1])


def _decode(tasks, expected_skills: tuple[str, ...]) -> tuple[dict[str, np.ndarray], set[bool]]:
    """Decode a list of metaworld ``Task`` into ``{skill: (n, d) rand_vecs}`` and the observability flags."""
    per_skill: dict[str, list[np.ndarray]] = {s: [] for s in expected_skills}
    flags: set[bool] = set()
    for task in tasks:
        data = pickle.loads(task.data)
        extra = set(data) - {"rand_vec", "env_cls", "partially_observable"}
        if extra:  # a metaworld change this port would have to replicate (extra _set_task_inner kwargs)
            raise RuntimeError(f"unexpected task data keys {sorted(extra)} for {task.env_name}")
        if task.env_name not in per_skill:
            raise RuntimeError(f"metaworld returned a task for {task.env_name}, not in {expected_skills}")
        per_skill[task.env_name].append(np.asarray(data["rand_vec"], dtype=np.float64))
        flags.add(bool(data["partially_observable"]))
    out = {}
    for skill, vecs in per_skill.items():
        arr = np.stack(vecs)
        arr.setflags(write=False)
        out[skill] = arr
    return out, flags


@functools.lru_cache(maxsize=None)
def _build(name: str, seed: int) -> Benchmark:
    import metaworld  # lazy: importing metaworld pulls in all 50 env classes

    kind, skill = parse_benchmark_name(name)
    if kind == "MT1":
        bench = metaworld.MT1(skill, seed=seed)
        train_skills, test_skills = (skill,), ()
    elif kind == "ML1":
        bench = metaworld.ML1(skill, seed=seed)
        train_skills, test_skills = (skill,), (skill,)
    else:
        bench = getattr(metaworld, kind)(seed=seed)
        train_skills, test_skills = SPLITS[kind]
    # Our hard-coded lists must agree with the classes metaworld used.
    # (MT1 reports its skill as a test class too, but has no test tasks: only the ML test lists are checked.)
    mw_test = tuple(bench.test_classes or ()) if kind.startswith("ML") else ()
    if tuple(bench.train_classes) != train_skills or mw_test != test_skills:
        raise RuntimeError(f"metaworld's {name} skill lists differ from envs.benchmarks'")
    train_tasks, train_flags = _decode(bench.train_tasks, train_skills)
    test_tasks, test_flags = _decode(bench.test_tasks, test_skills) if test_skills else ({}, set())
    flags = train_flags | test_flags
    if len(flags) != 1:
        raise RuntimeError(f"mixed partially_observable flags {flags} in {name}")
    return Benchmark(
        name=name,
        seed=seed,
        train_skills=train_skills,
        test_skills=test_skills,
        train_tasks=train_tasks,
        test_tasks=test_tasks,
        partially_observable=flags.pop(),
    )


def benchmark(name: str, seed: int = 0) -> Benchmark:
    """Task sets of benchmark ``name`` generated by metaworld with ``seed`` (cached per ``(name, seed)``).

    Names: ``"MT1/<skill>"``, ``"ML1/<skill>"``, ``"MT10"``, ``"MT25"``, ``"MT50"``, ``"ML10"``, ``"ML25"``,
    ``"ML45"``. Invalid names raise ``ValueError`` before anything is built. ``seed`` must be an int
    (metaworld's ``seed=None`` would draw from the global numpy RNG, see the module docstring).
    Cost: roughly 0.3 s per skill (MT10 ~3 s, ML10 ~4.5 s, MT50/ML45 ~15 s on one CPU core).
    """
    parse_benchmark_name(name)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int (metaworld's seed=None is not reproducible), got {seed!r}")
    return _build(name, int(seed))
