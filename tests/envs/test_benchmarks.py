"""envs.benchmarks against metaworld itself: skill lists, bitwise rand_vecs, observability, name errors."""

import functools
import pickle
import subprocess
import sys

import numpy as np
import pytest

import envs.benchmarks as B


@functools.lru_cache(maxsize=None)
def _metaworld_bench(name: str, seed: int):
    import metaworld

    if name.startswith(("MT1/", "ML1/")):
        kind, skill = name.split("/")
        return getattr(metaworld, kind)(skill, seed=seed)
    return getattr(metaworld, name)(seed=seed)


@functools.lru_cache(maxsize=None)
def _metaworld(name: str, seed: int):
    """metaworld's own benchmark object, decoded: ({skill: rand_vecs}, {skill: rand_vecs}, {flags})."""
    bench = _metaworld_bench(name, seed)

    def decode(tasks):
        out, flags = {}, set()
        for t in tasks:
            d = pickle.loads(t.data)
            out.setdefault(t.env_name, []).append(d["rand_vec"])
            flags.add(d["partially_observable"])
        return {k: np.array(v) for k, v in out.items()}, flags

    train, f1 = decode(bench.train_tasks)
    test, f2 = decode(bench.test_tasks)
    return train, test, f1 | f2


def _assert_same(name, seed, monkeypatch=None):
    """Bitwise comparison with metaworld. With ``monkeypatch`` (multi-skill benchmarks, ~3-8 s per build),
    envs.benchmarks is handed the metaworld object the test built (checking the seed it asks for) instead of
    building a second identical one; seed forwarding is also checked independently via MT1 (see callers)."""
    if monkeypatch is not None:
        import metaworld

        def shared(seed=None):
            assert seed == expected_seed
            return _metaworld_bench(name, seed)

        expected_seed = seed
        _metaworld(name, seed)  # build (and cache) metaworld's object before patching its class
        B._build.cache_clear()
        monkeypatch.setattr(metaworld, name, shared)
    ours = B.benchmark(name, seed)
    train, test, flags = _metaworld(name, seed)
    assert list(ours.train_tasks) == list(train) == list(ours.train_skills)
    assert list(ours.test_tasks) == list(test) == list(ours.test_skills)
    for mine, theirs in ((ours.train_tasks, train), (ours.test_tasks, test)):
        for skill, vecs in theirs.items():
            assert mine[skill].dtype == np.float64
            assert mine[skill].shape == (B.N_TASKS_PER_SKILL, vecs.shape[1])
            # bitwise identical, not just close
            assert mine[skill].tobytes() == vecs.astype(np.float64).tobytes(), (name, seed, skill)
    assert flags == {ours.partially_observable}
    return ours


def test_import_is_cheap():
    code = "import sys, envs.benchmarks; assert 'metaworld' not in sys.modules and 'mujoco' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_skill_lists_match_metaworld():
    import metaworld.env_dict as ed

    assert B.ALL_SKILLS == tuple(ed.ALL_V3_ENVIRONMENTS) and len(B.ALL_SKILLS) == 50
    assert B.MT10_SKILLS == tuple(ed.MT10_V3)
    assert B.MT25_SKILLS == tuple(ed.MT25_V3)
    assert B.MT50_SKILLS == tuple(ed.MT50_V3)
    for name, d in (("ML10", ed.ML10_V3), ("ML25", ed.ML25_V3), ("ML45", ed.ML45_V3)):
        assert B.SPLITS[name] == (tuple(d["train"]), tuple(d["test"])), name


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize("name", ["MT1/reach-v3", "ML1/pick-place-v3"])
def test_single_skill_rand_vecs_bitwise(name, seed):
    b = _assert_same(name, seed)
    assert b.name == name and b.seed == seed
    if name.startswith("MT1"):
        assert b.test_skills == () and b.test_tasks == {} and b.partially_observable is False
        assert b.num_skills == 50
    else:
        assert b.train_skills == b.test_skills == ("pick-place-v3",) and b.partially_observable is True
        assert b.num_skills == 100
        assert not np.array_equal(b.train_tasks["pick-place-v3"], b.test_tasks["pick-place-v3"])


@pytest.mark.parametrize("seed", [0, pytest.param(42, marks=pytest.mark.slow)])
def test_mt10_rand_vecs_bitwise(seed, monkeypatch):
    b = _assert_same("MT10", seed, monkeypatch)
    assert b.train_skills == B.MT10_SKILLS and b.skills == B.MT10_SKILLS
    assert b.partially_observable is False and b.num_skills == 500
    assert b.task_index("reach-v3") == 0 and b.task_index("window-close-v3") == 9
    with pytest.raises(ValueError, match="not in benchmark"):
        b.task_index("sweep-v3")
    # one seeded stream over the skills in order: the first skill matches MT1 (an independent build: checks
    # the seed is forwarded), later ones do not
    np.testing.assert_array_equal(b.train_tasks["reach-v3"], B.benchmark("MT1/reach-v3", seed).train_tasks["reach-v3"])
    push = B.benchmark("MT1/push-v3", seed).train_tasks["push-v3"]
    assert not np.array_equal(b.train_tasks["push-v3"], push)


def test_ml10_rand_vecs_bitwise(monkeypatch):
    b = _assert_same("ML10", 0, monkeypatch)
    assert b.train_skills == B.ML10_TRAIN_SKILLS and b.test_skills == B.ML10_TEST_SKILLS
    assert b.skills == B.ML10_TRAIN_SKILLS + B.ML10_TEST_SKILLS
    assert b.partially_observable is True and b.num_train_tasks == 500 and b.num_test_tasks == 250
    assert b.task_index("drawer-open-v3") == 10
    # independent of the shared object: the first train and first test skill start the seeded stream
    np.testing.assert_array_equal(b.train_tasks["reach-v3"], B.benchmark("MT1/reach-v3", 0).train_tasks["reach-v3"])
    drawer = B.benchmark("MT1/drawer-open-v3", 0).train_tasks["drawer-open-v3"]
    np.testing.assert_array_equal(b.test_tasks["drawer-open-v3"], drawer)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MT50", "ML45", "MT25", "ML25"])
def test_large_benchmarks_bitwise(name):
    b = _assert_same(name, 0)  # two independent builds
    assert len(b.skills) == {"MT50": 50, "ML45": 50, "MT25": 25, "ML25": 29}[name]


def test_seed_semantics():
    # ML1 test tasks use seed + 1: they equal MT1's (goal-visible) train tasks of seed + 1
    ml1 = B.benchmark("ML1/pick-place-v3", 0)
    mt1 = B.benchmark("MT1/pick-place-v3", 1)
    np.testing.assert_array_equal(ml1.test_tasks["pick-place-v3"], mt1.train_tasks["pick-place-v3"])
    # different seeds give different tasks; same seed gives the cached object
    assert B.benchmark("MT1/reach-v3", 0) is B.benchmark("MT1/reach-v3", 0)
    assert not np.array_equal(
        B.benchmark("MT1/reach-v3", 0).train_tasks["reach-v3"], B.benchmark("MT1/reach-v3", 1).train_tasks["reach-v3"]
    )
    # 50 distinct goals per skill; arrays are read-only (shared via the cache)
    vecs = B.benchmark("MT1/reach-v3", 0).train_tasks["reach-v3"]
    assert len(np.unique(vecs, axis=0)) == 50
    with pytest.raises(ValueError):
        vecs[0, 0] = 1.0


def test_global_numpy_rng_untouched():
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    B.benchmark("MT1/reach-v3", 7)
    np.testing.assert_array_equal(np.random.random(3), expected)


@pytest.mark.parametrize(
    "name, match",
    [
        ("MT11", "MT10, MT25, MT50, ML10, ML25, ML45"),
        ("mt10", "valid names: MT1/<skill>, ML1/<skill>"),
        ("reach-v3", "valid names"),
        ("MT1/reach-v2", "valid skills: assembly-v3, basketball-v3"),
        ("ML1/not-a-skill", "window-close-v3"),
        ("MT1/", "valid skills"),
    ],
)
def test_bad_names(name, match, monkeypatch):
    import envs.benchmarks

    def boom(*a, **k):  # must fail before building anything
        raise AssertionError("built a benchmark for an invalid name")

    monkeypatch.setattr(envs.benchmarks, "_build", boom)
    with pytest.raises(ValueError, match=match):
        B.benchmark(name)


@pytest.mark.parametrize("seed", [None, 1.5, "0", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be an int"):
        B.benchmark("MT1/reach-v3", seed)
